using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Saga.Components.EventStore;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.EventStore;

/// <summary>
/// Two coordinators over one event store: X is a saga in the test harness, Y only its commits. X keeps a
/// copy of what it committed last; Y moves the transfer on behind X's back.
/// </summary>
public sealed class Several_coordinators_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    [Fact]
    public async Task A_repeated_half_message_on_a_stale_copy_never_asks_the_producer_to_debit_what_another_coordinator_moved_on()
    {
        await using var x = await Start(schema);
        var id = await x.Prepare();
        Assert.True(x.Services.GetRequiredService<TransferCommits>().IsInFlight(id));
        await NeedsAttentionThroughY(id);

        await x.Send(new StoreHalfMessage(id, Alice, Bob, 100m, "EUR", Initiator));

        // X's copy says Prepared, which would ask ledger A to debit a transfer no coordinator completes now:
        // its commit fails on the version Y wrote, and the retry decides on what Y recorded.
        await x.Until(id, e => e.OfType<MessageIgnored>().Any(), "repeated half message recorded");
        Assert.Contains(TransferStates.NeedsAttention, (await x.Stream(id)).OfType<MessageIgnored>().Single().Detail);
        Assert.Single(x.LocalTransactionsAsked(id));
        var status = await x.Harness.GetRequestClient<GetTransferStatus>().GetResponse<TransferStatus>(new GetTransferStatus(id));
        Assert.Equal(TransferStates.NeedsAttention, status.Message.State);
    }

    [Fact]
    public async Task A_repair_is_decided_on_what_another_coordinator_recorded()
    {
        await using var x = await Start(schema);
        var id = await x.Prepare();
        Assert.True(x.Services.GetRequiredService<TransferCommits>().IsInFlight(id));
        await NeedsAttentionThroughY(id);

        var answer = await x.Harness.GetRequestClient<RecheckTransfer>()
            .GetResponse<RepairAccepted, RepairRejected>(new RecheckTransfer(id, "ops", "ledger A is back"));

        Assert.True(answer.Is(out MassTransit.Response<RepairAccepted>? accepted), $"rejected: {(answer.Is(out MassTransit.Response<RepairRejected>? r) ? r.Message.Reason : "?")}");
        Assert.Equal(TransferStates.Prepared, accepted.Message.State);
        Assert.Equal(["HalfMessageStored", "TransferNeedsAttention", "RecheckRequested"], await x.StreamTypes(id));
    }

    private async Task NeedsAttentionThroughY(Guid id)
    {
        await using var y = new TransferCommits(schema.Store, new TransferMetrics(), NullLogger<TransferCommits>.Instance, TimeProvider.System);
        await using var session = schema.Store.QuerySession();
        var transfer = (await session.LoadAsync<TransferState>(id))!;
        transfer.Record(new TransferNeedsAttention("no answer from ledger A", DateTimeOffset.UtcNow));
        await y.Commit(transfer, typeof(CheckBackDue));
    }
}
