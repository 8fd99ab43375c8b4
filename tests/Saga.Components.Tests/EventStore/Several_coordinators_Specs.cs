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

    [Fact]
    public async Task A_credit_reaching_the_coordinator_whose_copy_is_still_prepared_completes_the_transfer_without_a_conflict()
    {
        await using var x = await Start(schema);
        var id = await x.Prepare();
        await CommittedThroughY(id);

        await x.Send(new AccountCredited(id, Bob, 100m));

        await x.InState(id, x.Machine.Completed);
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested", "CreditConfirmed"], await x.StreamTypes(id));
        Assert.Equal(0, x.Services.GetRequiredService<TransferCommits>().Conflicts);
    }

    [Fact]
    public async Task A_stale_copy_that_still_reaches_a_commit_is_refused_there_and_counted()
    {
        await using var x = await Start(schema);
        var id = await x.Committed();
        await using (var y = Y())
        {
            await using var session = schema.Store.QuerySession();
            var transfer = (await session.LoadAsync<TransferState>(id))!;
            transfer.Record(new CreditConfirmed(nameof(CreditPurpose.Transfer), DateTimeOffset.UtcNow));
            await y.Commit(transfer, typeof(AccountCredited));
        }

        // X's copy says Committed: a repeated commit re-sends the credit on it, fails on Y's version, and is
        // decided again on what Y recorded.
        await x.Send(new CommitTransfer(id));

        await x.Until(id, e => e.OfType<MessageIgnored>().Any(), "repeated commit recorded");
        Assert.Equal(1, x.Services.GetRequiredService<TransferCommits>().Conflicts);
        Assert.Single(x.CreditsSent(id));
    }

    private TransferCommits Y() => new(schema.Store, new TransferMetrics(), NullLogger<TransferCommits>.Instance, TimeProvider.System);

    private async Task CommittedThroughY(Guid id)
    {
        await using var y = Y();
        await using var session = schema.Store.QuerySession();
        var transfer = (await session.LoadAsync<TransferState>(id))!;
        transfer.Record(new TransferCommitted("commit", DateTimeOffset.UtcNow));
        transfer.Record(new CreditRequested(nameof(CreditPurpose.Transfer), transfer.ToLedger, transfer.ToAccount, transfer.Amount, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1)));
        await y.Commit(transfer, typeof(CommitTransfer));
    }

    private async Task NeedsAttentionThroughY(Guid id)
    {
        await using var y = Y();
        await using var session = schema.Store.QuerySession();
        var transfer = (await session.LoadAsync<TransferState>(id))!;
        transfer.Record(new TransferNeedsAttention("no answer from ledger A", DateTimeOffset.UtcNow));
        await y.Commit(transfer, typeof(CheckBackDue));
    }
}
