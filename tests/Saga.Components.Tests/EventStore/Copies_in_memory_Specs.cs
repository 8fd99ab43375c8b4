using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Saga.Components.EventStore;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.Tests.EventStore;

/// <summary>
/// The copies a coordinator keeps of the transfers it committed: a transfer another coordinator moved
/// on or finished never passes through this one's final-state commit, so age alone must drop its copy.
/// </summary>
public sealed class Copies_in_memory_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_copy_older_than_its_lifetime_is_not_returned_and_is_removed()
    {
        await using var commits = Commits();
        var id = await Prepared(commits);

        _clock.Advance(TransferCommits.CopyLifetime - TimeSpan.FromSeconds(1));
        Assert.NotNull(commits.InFlight(id));

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(commits.InFlight(id));
        Assert.False(commits.IsInFlight(id));
        Assert.Equal(0, commits.CopiesHeld);
    }

    [Fact]
    public async Task Copies_nobody_asks_for_again_leave_memory_as_other_transfers_are_written()
    {
        await using var commits = Commits();
        var finishedElsewhere = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Prepared(commits)));
        Assert.Equal(finishedElsewhere.Length, commits.CopiesHeld);

        _clock.Advance(TransferCommits.CopyLifetime);
        var fresh = await Prepared(commits);

        Assert.Equal(1, commits.CopiesHeld);
        Assert.NotNull(commits.InFlight(fresh));
    }

    private TransferCommits Commits() => new(schema.Store, new TransferMetrics(), NullLogger<TransferCommits>.Instance, _clock);

    private async Task<Guid> Prepared(TransferCommits commits)
    {
        var at = _clock.GetUtcNow();
        var state = new TransferState { CorrelationId = Guid.NewGuid() };
        state.Record(new HalfMessageStored("A", "alice", "B", "bob", 1m, "EUR", at, at, 15));
        await commits.Commit(state, typeof(StoreHalfMessage));
        return state.CorrelationId;
    }
}
