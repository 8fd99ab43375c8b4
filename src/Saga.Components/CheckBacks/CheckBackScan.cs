using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Components.Hosting;
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

    /// <summary>
    /// How long a check-back, once sent, is not sent again while its transfer is unchanged (same version,
    /// due time and attempt). The saga normally moves the due time within milliseconds; after an outage it
    /// may take tens of seconds to work through tens of thousands of them, and every copy sent meanwhile
    /// would only queue behind and be found stale. A message lost on the way waits this long for its next
    /// copy, short beside the waits it stands for (check-backs grow to 2 minutes, credit resends start at 1).
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The broker's periodic scan of RocketMQ, for transfers: finds the transfers whose next step is due (an
/// index on the transfer view's ScanDueAt) and sends each a <see cref="CheckBackDue"/> naming the attempt:
/// a half message's check-back, or the resend of an unconfirmed credit, void or refund.
/// The saga does the asking; a repeated or stale attempt has no effect there, so overlapping scans are
/// harmless. A transfer that commits in time is never seen here.
/// Each due (transfer, version, due time, attempt) is sent once per <see cref="CheckBackScanOptions.Lease"/>,
/// remembered by this node only: a node that takes the scan over sends each once more, which is as
/// harmless as any repeat.
/// While more than its limit of messages wait in the coordinator's queue (<paramref name="backlog"/>), the scan
/// waits: the answers it would ask for may be among them, and a check-back or resend now would only queue copies
/// behind them (each answered, each one more commit) and hand transfers to a person for a silence that is only a backlog.
/// </summary>
public sealed class CheckBackScan(IDocumentStore store, IBus bus, TimeProvider clock, IOptions<CheckBackScanOptions> options,
    QueueBacklog? backlog = null)
{
    private readonly Dictionary<Guid, Lease> _leases = [];
    private readonly Lock _leasesLock = new();

    /// <summary>Check-backs sent and not yet sendable again.</summary>
    internal int Leases
    {
        get
        {
            lock (_leasesLock)
            {
                return _leases.Count;
            }
        }
    }

    /// <summary>
    /// Transfers in flight that were stored before the due time was named <c>ScanDueAt</c> (it was
    /// <c>NextCheckBackAt</c>) carry it under the old name and have nothing in the scan's column: the scan
    /// would never find them, and a debited transfer would wait for ever. Moves it to the new name and
    /// column. Run by the node that takes the scan; cheap once done (in-flight transfers only, by state).
    /// </summary>
    public async Task<int> UpgradeStoredDueTimes(NpgsqlConnection connection, CancellationToken cancellationToken = default)
    {
        var view = $"{store.Options.DatabaseSchemaName}.mt_doc_transfer";
        await using var command = new NpgsqlCommand($"""
            update {view}
            set data = (data - 'NextCheckBackAt') || jsonb_build_object('ScanDueAt', data -> 'NextCheckBackAt'),
                scan_due_at = (data ->> 'NextCheckBackAt')::timestamptz
            where current_state = any($1) and data ? 'NextCheckBackAt'
            """, connection);
        command.Parameters.Add(new() { Value = TransferStates.InFlight.ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One scan; returns how many check-backs it sent.</summary>
    public async Task<int> RunOnce(CancellationToken cancellationToken = default)
    {
        if (backlog is { IsOver: true })
        {
            return 0;
        }
        var now = clock.GetUtcNow();
        var batchSize = options.Value.BatchSize;
        var lease = options.Value.Lease;
        var endpoint = await bus.GetSendEndpoint(Queues.CoordinatorAddress).ConfigureAwait(false);
        await using var session = store.QuerySession();
        DropExpired(now);

        var read = new HashSet<Guid>();
        var sent = 0;
        var from = DateTimeOffset.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Keyset paging on the due time; ties at a page edge are read again and skipped.
            var page = await session.Query<TransferState>()
                .Where(x => x.ScanDueAt >= from && x.ScanDueAt <= now)
                .OrderBy(x => x.ScanDueAt)
                .Take(batchSize)
                .Select(x => new DueTransfer(x.CorrelationId, x.Version, x.CheckBacks, x.ScanDueAt))
                .ToListAsync(cancellationToken).ConfigureAwait(false);

            // Paging follows what was read, not what was sent: a page of leased transfers may have newly due ones behind it.
            var unread = page.Where(t => read.Add(t.CorrelationId)).ToList();
            var claimed = Claim(unread, now + lease);
            if (claimed.Count > 0)
            {
                try
                {
                    await endpoint.SendBatch(claimed.Select(t => new CheckBackDue(t.CorrelationId, t.CheckBacks + 1)), cancellationToken)
                        .ConfigureAwait(false);
                }
                catch
                {
                    Release(claimed);
                    throw;
                }
                sent += claimed.Count;
            }
            if (page.Count < batchSize || unread.Count == 0)
            {
                break;
            }
            from = page[^1].ScanDueAt!.Value;
        }
        return sent;
    }

    /// <summary>The transfers not sent as they now stand within a lease, now leased until <paramref name="until"/>.</summary>
    private List<DueTransfer> Claim(List<DueTransfer> due, DateTimeOffset until)
    {
        var claimed = new List<DueTransfer>(due.Count);
        lock (_leasesLock)
        {
            foreach (var t in due)
            {
                // The version too: a recheck makes a transfer due again at the same attempt, and at the same due time on a coarse or test clock.
                if (_leases.TryGetValue(t.CorrelationId, out var held) && held.Transfer == t)
                {
                    continue;
                }
                _leases[t.CorrelationId] = new Lease(t, until);
                claimed.Add(t);
            }
        }
        return claimed;
    }

    private void Release(List<DueTransfer> claimed)
    {
        lock (_leasesLock)
        {
            foreach (var t in claimed)
            {
                _leases.Remove(t.CorrelationId);
            }
        }
    }

    private void DropExpired(DateTimeOffset now)
    {
        lock (_leasesLock)
        {
            foreach (var (id, lease) in _leases)
            {
                if (lease.Until <= now)
                {
                    _leases.Remove(id);
                }
            }
        }
    }

    private sealed record DueTransfer(Guid CorrelationId, long Version, int CheckBacks, DateTimeOffset? ScanDueAt);

    private sealed record Lease(DueTransfer Transfer, DateTimeOffset Until);
}
