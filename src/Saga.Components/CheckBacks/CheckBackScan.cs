using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.CheckBacks;

/// <summary>Configuration section "CheckBackScan".</summary>
public sealed class CheckBackScanOptions
{
    public const string Section = "CheckBackScan";

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Transfers read per query; a run pages through every due transfer.</summary>
    public int BatchSize { get; set; } = 500;
}

/// <summary>
/// The broker's periodic scan of RocketMQ, for transfers: finds the half messages whose check-back is
/// due (an index on the transfer view) and sends each a <see cref="CheckBackDue"/> naming the attempt.
/// The saga does the asking; a repeated or stale attempt has no effect there, so overlapping scans are
/// harmless. A transfer that commits in time is never seen here.
/// </summary>
public sealed class CheckBackScan(IDocumentStore store, IBus bus, TimeProvider clock, IOptions<CheckBackScanOptions> options)
{
    private static readonly Uri Coordinator = new($"queue:{TransferStateDefinition.QueueName}");

    /// <summary>One scan; returns how many check-backs it sent.</summary>
    public async Task<int> RunOnce(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var batchSize = options.Value.BatchSize;
        var endpoint = await bus.GetSendEndpoint(Coordinator).ConfigureAwait(false);
        await using var session = store.QuerySession();

        var sent = new HashSet<Guid>();
        var from = DateTimeOffset.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Keyset paging on the due time; ties at a page edge are read again and skipped.
            var page = await session.Query<TransferState>()
                .Where(x => x.NextCheckBackAt >= from && x.NextCheckBackAt <= now)
                .OrderBy(x => x.NextCheckBackAt)
                .Take(batchSize)
                .Select(x => new DueTransfer(x.CorrelationId, x.CheckBacks, x.NextCheckBackAt))
                .ToListAsync(cancellationToken).ConfigureAwait(false);

            var fresh = page.Where(t => sent.Add(t.CorrelationId)).ToList();
            if (fresh.Count > 0)
            {
                await endpoint.SendBatch(fresh.Select(t => new CheckBackDue(t.CorrelationId, t.CheckBacks + 1)), cancellationToken)
                    .ConfigureAwait(false);
            }
            if (page.Count < batchSize || fresh.Count == 0)
            {
                break;
            }
            from = page[^1].NextCheckBackAt!.Value;
        }
        return sent.Count;
    }

    private sealed record DueTransfer(Guid CorrelationId, int CheckBacks, DateTimeOffset? NextCheckBackAt);
}
