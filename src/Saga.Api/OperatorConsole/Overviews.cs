using System.Diagnostics;
using Marten;
using Npgsql;
using NpgsqlTypes;
using Saga.Contracts;

namespace Saga.Api.OperatorConsole;

/// <summary>Created→final latency in milliseconds.</summary>
internal sealed record Latency(double P50, double P95, double P99);

/// <summary>The transfers that ended (reached a final state) in one bucket of <see cref="Throughput.BucketSeconds"/>, starting at <see cref="Start"/>.</summary>
internal sealed record Bucket(DateTimeOffset Start, long Finished, double PerSecond, Latency? Latency);

/// <summary>The transfers that ended in the last <see cref="WindowSeconds"/>, in all and bucket by bucket (oldest first).</summary>
internal sealed record Throughput(int WindowSeconds, int BucketSeconds, long Finished, double PerSecond, Latency? Latency, IReadOnlyList<Bucket> Buckets);

/// <summary>
/// The overview's figures at <see cref="At"/>. <see cref="SystemWide"/>: an operator's, of every transfer, with the
/// throughput and the error queues; otherwise one caller's counts and check-backs, and nothing about anyone else.
/// </summary>
internal sealed record Overview(DateTimeOffset At, bool SystemWide, IReadOnlyDictionary<string, long> Counts, long CheckBacksDue,
    Throughput? Throughput, ErrorQueueDepths? ErrorQueues);

/// <summary>
/// Computes the overview at most once per <see cref="Refresh"/> for each scope (everyone, or one initiator) on this Api
/// instance, one computation at a time, and hands the same figures to every browser that asks in between: the database
/// sees the same load with one console open or a hundred. A computation that took long spaces the next ten times as far.
/// </summary>
internal sealed class Overviews(IDocumentStore store, ErrorQueueMetrics errorQueues)
{
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);
    public const int WindowSeconds = 300, BucketSeconds = 10;
    private const string Everyone = "";
    private const int ScopesKept = 1000;

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    // The view's table (alias "transfer", TransferEventStore): its duplicated columns current_state, updated_at, scan_due_at are indexed.
    private readonly string _table = $"{store.Options.DatabaseSchemaName}.mt_doc_transfer";

    private sealed class Entry
    {
        public Task<Overview> Figures = Task.FromResult<Overview>(null!);
        public long StaleAt = long.MaxValue;
    }

    /// <summary>Every transfer's figures when <paramref name="initiator"/> is null (operators), else those of its transfers only.</summary>
    public Task<Overview> For(string? initiator)
    {
        var scope = initiator is null ? Everyone : "initiator:" + initiator;
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            if (_cache.TryGetValue(scope, out var cached) && now < Volatile.Read(ref cached.StaleAt))
            {
                return cached.Figures;
            }
            if (_cache.Count >= ScopesKept)
            {
                foreach (var stale in _cache.Where(e => e.Value.StaleAt <= now).Select(e => e.Key).ToList())
                {
                    _cache.Remove(stale);
                }
            }
            var entry = new Entry();
            entry.Figures = Task.Run(() => Compute(initiator, entry));
            _cache[scope] = entry;
            return entry.Figures;
        }
    }

    private async Task<Overview> Compute(string? initiator, Entry entry)
    {
        await _oneAtATime.WaitAsync().ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        try
        {
            // Whole seconds, so the buckets of two refreshes line up; rounded up, so a transfer the counts already hold as
            // final (it ended before this query) is in the window too: rounded down, one that ended within the current
            // second was counted but missing from the throughput until the next refresh.
            var at = DateTimeOffset.FromUnixTimeSeconds((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 999) / 1000);
            var errors = initiator is null ? errorQueues.Read() : Task.FromResult<ErrorQueueDepths?>(null);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var (counts, due, throughput) = await Query(initiator, at, timeout.Token).ConfigureAwait(false);
            return new Overview(at, initiator is null, counts, due, throughput, await errors.ConfigureAwait(false));
        }
        finally
        {
            var took = Stopwatch.GetElapsedTime(started);
            var spacing = took * 10 > Refresh ? took * 10 : Refresh;
            Volatile.Write(ref entry.StaleAt, Stopwatch.GetTimestamp() + (long)(spacing.TotalSeconds * Stopwatch.Frequency));
            _oneAtATime.Release();
        }
    }

    private async Task<(IReadOnlyDictionary<string, long>, long, Throughput?)> Query(string? initiator, DateTimeOffset at, CancellationToken cancellationToken)
    {
        // The view's JSON names the initiator as TransferState does; no index on it: only a caller's own overview filters by it.
        var mine = initiator is null ? "" : " and data ->> 'Initiator' = $2";
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        // Counts by state: one pass over the current_state index.
        batch.BatchCommands.Add(Command($"select current_state, count(*) from {_table} where true{mine.Replace("$2", "$1")} group by current_state", initiator));
        // Check-backs due: the scan's partial index holds only transfers that wait on something.
        batch.BatchCommands.Add(Command($"select count(*) from {_table} where scan_due_at <= $1{mine}", at, initiator));
        if (initiator is null)
        {
            // Ended in the window: an updated_at range (a final state is never updated again), so the cost follows the
            // traffic of the last minutes, not the size of the table. Bucket 0 is the newest; the last row (null bucket) the whole window.
            batch.BatchCommands.Add(Command(
                $"""
                with ended as (
                    select floor(extract(epoch from $1 - updated_at) / {BucketSeconds})::int as ago,
                           (extract(epoch from updated_at - (data ->> 'CreatedAt')::timestamptz) * 1000)::float8 as latency
                    from {_table}
                    where updated_at > $1 - make_interval(secs => {WindowSeconds}) and updated_at <= $1 and current_state = any($2))
                select ago, count(*), percentile_cont(array[0.5, 0.95, 0.99]) within group (order by latency)
                from ended group by grouping sets ((ago), ())
                """, at, TransferStates.Final.ToArray()));
        }
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var counts = TransferStates.All.ToDictionary(s => s, _ => 0L);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!reader.IsDBNull(0))
            {
                counts[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var due = reader.GetInt64(0);
        if (initiator is not null)
        {
            return (counts, due, null);
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var perBucket = new Dictionary<int, (long Finished, Latency? Latency)>();
        (long Finished, Latency? Latency) whole = (0, null);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // No transfer ended in the window: the whole window's row has a count of 0 and no percentiles.
            var latency = reader.IsDBNull(2) ? null : reader.GetFieldValue<double[]>(2) is var p
                ? new Latency(Math.Round(p[0], 1), Math.Round(p[1], 1), Math.Round(p[2], 1)) : null;
            var row = (reader.GetInt64(1), latency);
            if (reader.IsDBNull(0))
            {
                whole = row;
            }
            else
            {
                perBucket[reader.GetInt32(0)] = row;
            }
        }
        const int buckets = WindowSeconds / BucketSeconds;
        var series = Enumerable.Range(0, buckets).Reverse().Select(ago =>
        {
            var (finished, latency) = perBucket.GetValueOrDefault(ago);
            return new Bucket(at.AddSeconds(-(ago + 1) * BucketSeconds), finished, Math.Round((double)finished / BucketSeconds, 2), latency);
        }).ToList();
        return (counts, due, new Throughput(WindowSeconds, BucketSeconds, whole.Finished, Math.Round((double)whole.Finished / WindowSeconds, 2), whole.Latency, series));
    }

    private static NpgsqlBatchCommand Command(string sql, params object?[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters.Where(p => p is not null))
        {
            command.Parameters.Add(value switch
            {
                DateTimeOffset time => new NpgsqlParameter { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                string[] states => new NpgsqlParameter { Value = states, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Varchar },
                _ => new NpgsqlParameter { Value = value },
            });
        }
        return command;
    }
}
