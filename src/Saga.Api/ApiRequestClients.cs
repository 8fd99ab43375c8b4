using MassTransit;
using Saga.Contracts;

namespace Saga.Api;

internal static class ApiRequestClients
{
    /// <summary>
    /// Request clients for the repairs, all sent to the coordinator's repairs queue. Requests to a ledger name their queue
    /// from the request, so the endpoints make those clients per request (IScopedClientFactory).
    /// </summary>
    public static IBusRegistrationConfigurator AddRepairRequestClients(this IBusRegistrationConfigurator configurator)
    {
        foreach (var repair in new[] { typeof(RetryCredit), typeof(RecheckTransfer), typeof(RefundTransfer), typeof(ResolveTransfer) })
        {
            configurator.AddRequestClient(repair, Queues.RepairsAddress);
        }
        return configurator;
    }
}
