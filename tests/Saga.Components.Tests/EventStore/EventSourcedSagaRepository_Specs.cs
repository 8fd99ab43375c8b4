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
        await s.Repair(new RefundTransfer(id, "ops", "refund"));
        await s.Send(new CreditVoided(id, TransferScenario.Bob, 100m));
        await s.InState(id, s.Machine.Refunding);

        var rebuilt = TransferState.Rebuild(id, await s.Stream(id));
        var view = (await s.Load(id))!;

        Assert.Equal(JsonSerializer.Serialize(view), JsonSerializer.Serialize(rebuilt));
        Assert.Equal(
            ["HalfMessageStored", "CheckBackSent", "CheckBackAnswered", "TransferCommitted", "CreditRequested", "CreditFailed", "TransferNeedsAttention",
             "RefundRequested", "VoidRequested", "CreditVoidConfirmed", "CreditRequested"],
            await s.StreamTypes(id));
    }

    [Fact]
    public async Task Of_two_appends_from_the_same_version_the_second_is_a_concurrency_conflict_and_writes_nothing()
    {
        await using var commits = Commits();
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UtcNow;
        var first = new TransferState { CorrelationId = id };
        first.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
        await commits.Commit(first, typeof(StoreHalfMessage));

        var winner = await Reload(id);
        var loser = await Reload(id);
        winner.Record(new TransferCommitted("commit", at));
        loser.Record(new TransferRolledBack("rollback", "late", at));
        await commits.Commit(winner, typeof(CommitTransfer));
        await Assert.ThrowsAsync<MassTransit.ConcurrencyException>(() => commits.Commit(loser, typeof(RollbackTransfer)));

        await using var query = schema.Store.QuerySession();
        var stream = (await query.Events.FetchStreamAsync(id)).Select(e => e.Data.GetType().Name);
        Assert.Equal(["HalfMessageStored", "TransferCommitted"], stream);
        Assert.Equal(TransferStates.Committed, (await query.LoadAsync<TransferState>(id))!.CurrentState);
        Assert.Null(commits.InFlight(id)); // the loser's conflict dropped the copy: the retry reads the database
    }

    [Fact]
    public async Task A_second_stream_for_the_same_transfer_is_a_concurrency_conflict()
    {
        await using var commits = Commits();
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < 2; i++)
        {
            var state = new TransferState { CorrelationId = id };
            state.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
            var append = commits.Commit(state, typeof(StoreHalfMessage));
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

    [Fact]
    public async Task Commits_waiting_together_are_written_together_and_a_stale_one_fails_alone()
    {
        await using var commits = Commits();
        var at = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid()).ToArray();
        await Task.WhenAll(ids.Select(id =>
        {
            var state = new TransferState { CorrelationId = id };
            state.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
            return commits.Commit(state, typeof(StoreHalfMessage));
        }));

        var stale = await Reload(ids[0]);
        var ahead = await Reload(ids[0]);
        ahead.Record(new TransferCommitted("commit", at));
        await commits.Commit(ahead, typeof(CommitTransfer));

        // One transaction for all of them fails on the stale one and writes nothing...
        var batch = ids.Select(id => id == ids[0] ? stale : commits.InFlight(id)!).ToList();
        foreach (var state in batch)
        {
            state.Record(new TransferCommitted("commit", at));
        }
        var pending = batch.Select(s => new TransferCommits.PendingCommit(s, typeof(CommitTransfer))).ToList();
        // Marten reports the stale version as JasperFx's concurrency exception (or several, aggregated).
        var conflict = await Assert.ThrowsAnyAsync<Exception>(() => TransferCommits.Write(schema.Store, pending));
        Assert.True(conflict is JasperFx.ConcurrencyException || conflict is AggregateException { InnerExceptions: var inner } && inner.All(e => e is JasperFx.ConcurrencyException),
            $"not a version conflict: {conflict}");
        Assert.Equal(TransferStates.Prepared, (await Reload(ids[1])).CurrentState);

        // ...so the queue writes the others on their own, and only the stale one conflicts.
        var results = await Task.WhenAll(batch.Select(async s =>
        {
            try
            {
                await commits.Commit(s, typeof(CommitTransfer));
                return "committed";
            }
            catch (MassTransit.ConcurrencyException)
            {
                return "conflict";
            }
        }));
        Assert.Equal(["conflict", .. Enumerable.Repeat("committed", ids.Length - 1)], results);
        foreach (var id in ids.Skip(1))
        {
            Assert.Equal(TransferStates.Committed, (await Reload(id)).CurrentState);
            Assert.Equal(2, (await Reload(id)).Version);
        }
    }

    [Fact]
    public async Task Two_commits_for_one_transfer_in_a_batch_fail_neither_the_other_transfers_nor_the_stream()
    {
        await using var commits = Commits();
        var at = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToArray();
        await Task.WhenAll(ids.Select(id =>
        {
            var state = new TransferState { CorrelationId = id };
            state.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
            return commits.Commit(state, typeof(StoreHalfMessage));
        }));

        // A commit and a rollback for ids[0] handled at once, both from version 1, eight other transfers between
        // them. In one session Marten would merge the rollback into the commit's append: three events expected
        // to end at version 2 is not even a version conflict.
        var first = await Reload(ids[0]);
        var second = await Reload(ids[0]);
        first.Record(new TransferCommitted("commit", at));
        first.Record(new CreditRequested("Transfer", "B", "bob", 1m, at, at));
        second.Record(new TransferRolledBack("rollback", "late", at));
        var others = ids.Skip(1).Select(id => commits.InFlight(id)!).ToList();
        foreach (var state in others)
        {
            state.Record(new TransferCommitted("commit", at));
        }
        List<TransferCommits.PendingCommit> batch =
        [
            new(first, typeof(CommitTransfer)),
            .. others.Select(s => new TransferCommits.PendingCommit(s, typeof(CommitTransfer))),
            new(second, typeof(RollbackTransfer)),
        ];

        await commits.WriteBatch(batch);

        var outcomes = await Task.WhenAll(batch.Select(async c =>
        {
            try
            {
                await c.Done.Task;
                return "committed";
            }
            catch (MassTransit.ConcurrencyException)
            {
                return "conflict";
            }
            catch (Exception e)
            {
                return e.GetType().Name;
            }
        }));
        Assert.Equal(["committed", .. Enumerable.Repeat("committed", others.Count), "conflict"], outcomes);
        foreach (var id in ids)
        {
            var view = await Reload(id);
            Assert.Equal((TransferStates.Committed, id == ids[0] ? 3L : 2L), (view.CurrentState, view.Version));
        }
        await using var query = schema.Store.QuerySession();
        var stream = await query.Events.FetchStreamAsync(ids[0]);
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested"], stream.Select(e => e.Data.GetType().Name));
        Assert.Equal([1L, 2L, 3L], stream.Select(e => e.Version));
    }

    private TransferCommits Commits() =>
        new(schema.Store, new TransferMetrics(), Microsoft.Extensions.Logging.Abstractions.NullLogger<TransferCommits>.Instance, TimeProvider.System);

    private async Task<TransferState> Reload(Guid id)
    {
        await using var session = schema.Store.QuerySession();
        return (await session.LoadAsync<TransferState>(id))!;
    }
}
