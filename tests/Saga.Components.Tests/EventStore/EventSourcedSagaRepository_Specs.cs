using System.Text.Json;
using Marten;
using Saga.Components.EventStore;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Tests.Transfers;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.EventStore;

public sealed class EventSourcedSagaRepository_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    [Fact]
    public async Task Rebuilding_a_transfer_from_its_stream_equals_the_stored_view()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.CheckSent(id, 1);
        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await s.InState(id, s.Machine.Committed);
        await s.FailCredit(id, CreditPurpose.Transfer);
        await s.InState(id, s.Machine.NeedsAttention);
        await s.Harness.GetRequestClient<RefundTransfer>().GetResponse<RepairAccepted>(new RefundTransfer(id, "ops", "refund"));
        await s.InState(id, s.Machine.Refunding);

        var rebuilt = TransferState.Rebuild(id, await s.Stream(id));
        var view = (await s.Load(id))!;

        Assert.Equal(JsonSerializer.Serialize(view), JsonSerializer.Serialize(rebuilt));
        Assert.Equal(
            ["HalfMessageStored", "CheckBackSent", "CheckBackAnswered", "TransferCommitted", "CreditRequested", "CreditFailed", "TransferNeedsAttention",
             "RefundRequested", "CreditRequested"],
            await s.StreamTypes(id));
    }

    [Fact]
    public async Task Of_two_appends_from_the_same_version_the_second_is_a_concurrency_conflict_and_writes_nothing()
    {
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UtcNow;
        var first = new TransferState { CorrelationId = id };
        first.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
        await using (var session = schema.Store.LightweightSession())
        {
            await EventSourcedSagaRepository.Append(session, first, isNew: true, typeof(StoreHalfMessage), default);
        }

        var winner = await Reload(id);
        var loser = await Reload(id);
        winner.Record(new TransferCommitted("commit", at));
        loser.Record(new TransferRolledBack("rollback", "late", at));
        await using (var session = schema.Store.LightweightSession())
        {
            await EventSourcedSagaRepository.Append(session, winner, isNew: false, typeof(CommitTransfer), default);
        }
        await using (var session = schema.Store.LightweightSession())
        {
            await Assert.ThrowsAsync<MassTransit.ConcurrencyException>(() =>
                EventSourcedSagaRepository.Append(session, loser, isNew: false, typeof(RollbackTransfer), default));
        }

        await using var query = schema.Store.QuerySession();
        var stream = (await query.Events.FetchStreamAsync(id)).Select(e => e.Data.GetType().Name);
        Assert.Equal(["HalfMessageStored", "TransferCommitted"], stream);
        Assert.Equal(TransferStates.Committed, (await query.LoadAsync<TransferState>(id))!.CurrentState);
    }

    [Fact]
    public async Task A_second_stream_for_the_same_transfer_is_a_concurrency_conflict()
    {
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < 2; i++)
        {
            var state = new TransferState { CorrelationId = id };
            state.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
            await using var session = schema.Store.LightweightSession();
            var append = EventSourcedSagaRepository.Append(session, state, isNew: true, typeof(StoreHalfMessage), default);
            if (i == 0)
            {
                await append;
            }
            else
            {
                await Assert.ThrowsAsync<MassTransit.ConcurrencyException>(() => append);
            }
        }
    }

    private async Task<TransferState> Reload(Guid id)
    {
        await using var session = schema.Store.QuerySession();
        return (await session.LoadAsync<TransferState>(id))!;
    }
}
