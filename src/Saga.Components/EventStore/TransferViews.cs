using Marten;
using Marten.Linq.MatchesSql;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.EventStore;

/// <summary>
/// Where a listing of transfers stopped: the last one's change time and id. Many transfers can change in the
/// same microsecond (the stored time's precision), so the id orders those that share a time.
/// </summary>
public readonly record struct TransferPosition(DateTimeOffset UpdatedAt, Guid TransferId);

/// <summary>
/// Which transfers a listing holds: in <see cref="State"/> (or any but <see cref="NotInState"/>), asked for by
/// <see cref="Initiator"/>, changed at or after <see cref="ChangedFrom"/> and before <see cref="ChangedBefore"/>; null means any.
/// </summary>
public sealed record TransferFilter(
    string? State = null,
    string? NotInState = null,
    string? Initiator = null,
    DateTimeOffset? ChangedFrom = null,
    DateTimeOffset? ChangedBefore = null);

/// <summary>
/// What readers of the coordinator's store (the Api, tools) get: a transfer as <see cref="TransferStatus"/>,
/// read from the view stored with each commit. The saga instance behind it stays the coordinator's.
/// </summary>
public static class TransferViews
{
    public static async Task<TransferStatus?> Load(IQuerySession session, Guid transferId, CancellationToken cancellationToken) =>
        (await session.LoadAsync<TransferState>(transferId, cancellationToken).ConfigureAwait(false))?.ToStatus();

    /// <summary>
    /// The transfers in <paramref name="state"/>, asked for by <paramref name="initiator"/> if given, most
    /// recently changed first, changed before <paramref name="before"/> if given.
    /// </summary>
    public static Task<IReadOnlyList<TransferStatus>> InState(IQuerySession session, string state, string? initiator, DateTimeOffset? before, int take,
        CancellationToken cancellationToken) =>
        Page(session, new TransferFilter(State: state, Initiator: initiator), before is { } b ? Before(b) : null, take, cancellationToken);

    /// <summary>Every transfer changed before <paramref name="time"/>: the position ahead of all of them (no id is below the empty one).</summary>
    public static TransferPosition Before(DateTimeOffset time) => new(time, Guid.Empty);

    /// <summary>
    /// Up to <paramref name="take"/> transfers that <paramref name="filter"/> holds, newest change first (ties by id,
    /// descending), those after <paramref name="after"/> if given: a keyset page, read through the view's
    /// updated_at index with a limit, however many transfers there are.
    /// </summary>
    public static async Task<IReadOnlyList<TransferStatus>> Page(IQuerySession session, TransferFilter filter, TransferPosition? after, int take,
        CancellationToken cancellationToken)
    {
        var page = await Query(session, filter, after, take).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. page.Select(t => t.ToStatus())];
    }

    /// <summary>The query behind <see cref="Page"/>, for a reader that wants its SQL (its plan).</summary>
    public static IQueryable<TransferState> Query(IQuerySession session, TransferFilter filter, TransferPosition? after, int take)
    {
        var query = session.Query<TransferState>().AsQueryable();
        if (filter.State is { } state)
        {
            query = query.Where(x => x.CurrentState == state);
        }
        if (filter.NotInState is { } notInState)
        {
            query = query.Where(x => x.CurrentState != notInState);
        }
        if (filter.Initiator is { } initiator)
        {
            query = query.Where(x => x.Initiator == initiator);
        }
        if (filter.ChangedFrom is { } from)
        {
            query = query.Where(x => x.UpdatedAt >= from);
        }
        if (filter.ChangedBefore is { } before)
        {
            query = query.Where(x => x.UpdatedAt < before);
        }
        if (after is { } position)
        {
            // "(updated_at, id) < (t, id)", spelled so that its first half is a range on the updated_at index.
            var at = position.UpdatedAt.ToUniversalTime();
            query = query.Where(x => x.MatchesSql("(updated_at <= ? and (updated_at < ? or id < ?))", at, at, position.TransferId));
        }
        return query.OrderByDescending(x => x.UpdatedAt).ThenByDescending(x => x.CorrelationId).Take(take);
    }
}
