using MassTransit;
using Saga.Contracts;

namespace Saga.Components.Transfers;

public sealed class TransferStateDefinition : SagaDefinition<TransferState>
{
    public TransferStateDefinition()
    {
        Endpoint(e =>
        {
            e.Name = Queues.Coordinator;
            e.PrefetchCount = 256;
        });
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TransferState> sagaConfigurator,
        IRegistrationContext context)
    {
        // Two messages for one transfer racing: the loser's append fails and it runs again on the winner's events.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Handle<ConcurrencyException>();
            r.Intervals(0, 10, 50, 100, 250, 500, 1000);
        });
        // A database restart or a broken connection: keep the message until PostgreSQL is back (~30 s), then the error queue.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<ConcurrencyException>();
            r.Intervals(100, 500, 1000, 2000, 5000, 10000, 10000);
        });
        // Sends and responses leave only after the transfer's events are committed.
        endpointConfigurator.UseInMemoryOutbox(context);
    }
}
