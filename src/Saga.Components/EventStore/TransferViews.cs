using Marten;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.EventStore;

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
    public static async Task<IReadOnlyList<TransferStatus>> InState(IQuerySession session, string state, string? initiator, DateTimeOffset? before, int take,
        CancellationToken cancellationToken)
    {
        var query = session.Query<TransferState>().Where(x => x.CurrentState == state);
        if (initiator is not null)
        {
            query = query.Where(x => x.Initiator == initiator);
        }
        if (before is { } b)
        {
            query = query.Where(x => x.UpdatedAt < b);
        }
        var page = await query.OrderByDescending(x => x.UpdatedAt).Take(take).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. page.Select(t => t.ToStatus())];
    }
}
