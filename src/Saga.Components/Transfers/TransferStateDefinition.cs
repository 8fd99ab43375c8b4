using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Saga.Components.Hosting;
using Saga.Components.Security;
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
        // A message the endpoint does not accept (AcceptOnly) is refused at once: retrying cannot change its type.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<ConcurrencyException>();
            r.Ignore<MessageNotAcceptedException>();
            r.Intervals(100, 500, 1000, 2000, 5000, 10000, 10000);
        });
        // Sends and responses leave only after the transfer's events are committed.
        endpointConfigurator.UseInMemoryOutbox(context);
        var senders = context.GetService<IOptions<SenderOptions>>()?.Value ?? new SenderOptions();
        sagaConfigurator.UseFilter(new TransferSenders(senders, context.GetService<TimeProvider>() ?? TimeProvider.System));
    }

    /// <summary>
    /// The saga's three receive endpoints, configured here rather than by ConfigureEndpoints (which skips a
    /// saga configured on any endpoint by hand). New transfers arrive on <see cref="Queues.HalfMessages"/>,
    /// which takes fewer messages at once than <see cref="Queues.Coordinator"/>, so under a backlog the
    /// transfers in flight keep most of the coordinator; while <see cref="Queues.Coordinator"/> has a backlog
    /// (<see cref="QueueBacklog"/>), new half messages wait. Operators' repairs arrive on
    /// <see cref="Queues.Repairs"/>. The Api writes to those two only, and each of the three accepts only its
    /// own messages: no one who can submit or repair can deliver a commit or a credit confirmation, and no
    /// ledger can deliver a half message or a repair. Neither of the last two binds to a published message
    /// type, so a published fault reaches the saga once, on its main queue.
    /// </summary>
    public static void ConfigureEndpoints(IRegistrationContext context, IBusFactoryConfigurator bus)
    {
        // Built by hand, so out of reach of the ConfigureEndpoints callback that makes queues quorum queues.
        var rabbit = context.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
        // The ledgers write here, and so never deliver a half message (naming any initiator) or a repair.
        bus.ReceiveEndpoint(Queues.Coordinator, e =>
        {
            e.UseFilter(new AcceptOnly(typeof(CommitTransfer), typeof(RollbackTransfer), typeof(CheckBackDue), typeof(LocalTransactionChecked),
                typeof(AccountCredited), typeof(CreditVoided), typeof(Fault<CreditAccount>), typeof(Fault), typeof(GetTransferStatus)));
            e.PrefetchCount = 256;
            rabbit.ConfigureEndpoint(e);
            e.ConfigureSaga<TransferState>(context);
        });
        var backlog = context.GetRequiredService<QueueBacklog>();
        bus.ReceiveEndpoint(Queues.HalfMessages, e =>
        {
            e.ConfigureConsumeTopology = false;
            e.UseFilter(new AcceptOnly(typeof(StoreHalfMessage)));
            e.UseExecuteAsync(c => backlog.UntilUnder(c.CancellationToken));
            e.PrefetchCount = 64;
            e.ConcurrentMessageLimit = 32;
            rabbit.ConfigureEndpoint(e);
            e.ConfigureSaga<TransferState>(context);
        });
        bus.ReceiveEndpoint(Queues.Repairs, e =>
        {
            e.ConfigureConsumeTopology = false;
            e.UseFilter(new AcceptOnly(typeof(RetryCredit), typeof(RecheckTransfer), typeof(RefundTransfer), typeof(ResolveTransfer), typeof(GetTransferStatus)));
            e.PrefetchCount = 16;
            rabbit.ConfigureEndpoint(e);
            e.ConfigureSaga<TransferState>(context);
        });
    }
}
