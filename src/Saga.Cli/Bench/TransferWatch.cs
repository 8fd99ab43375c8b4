using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Saga.Contracts;

namespace Saga.Cli;

/// <summary>
/// Watches the coordinator's transfer view, from <see cref="Start"/> to <see cref="Stop"/>, for transfers
/// reaching a final state, keeping each one's latest: how the bench waits until its transfers are final,
/// and when each became so. An instrument, not a client path.
/// </summary>
public sealed class TransferWatch : IDisposable
{
    // A bench has no person: a transfer that needs attention is as far as it goes.
    private static readonly string[] FinalStates = [.. TransferStates.Final, TransferStates.NeedsAttention];

    private readonly NpgsqlDataSource _db;
    private readonly string[] _settled;
    private readonly ConcurrentDictionary<Guid, (string State, DateTimeOffset At)> _seen = new();
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiting = new();
    private readonly SemaphoreSlim _someoneWaits = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _observer;
    private readonly Task _waiters;

    private TransferWatch(NpgsqlDataSource db, bool needsAttentionIsFinal)
    {
        _db = db;
        _settled = needsAttentionIsFinal ? FinalStates : [.. TransferStates.Final];
        _observer = Observe(_stop.Token);
        _waiters = AnswerWaiters(_stop.Token);
    }

    /// <summary>
    /// Completes when the source ledger's local transaction for <paramref name="id"/> is decided (the transfer
    /// is past Prepared): what a closed-loop client waited for when the Api answered only after the debit.
    /// The Api now answers 202 before any money moves, so without this wait a closed loop would offer
    /// unbounded load. Asked for by id every few milliseconds while anyone waits.
    /// </summary>
    public Task WhenDecided(Guid id, CancellationToken cancellationToken)
    {
        if (IsFinal(id))
        {
            return Task.CompletedTask;
        }
        var waiter = _waiting.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        _someoneWaits.Release();
        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <param name="needsAttentionIsFinal">False when a person acts on a transfer that needs attention (chaos): it is not final yet.</param>
    public static TransferWatch Start(NpgsqlDataSource db, bool needsAttentionIsFinal) => new(db, needsAttentionIsFinal);

    /// <summary>Every transfer seen in a final state, with its latest such state and when it was stored.</summary>
    public IReadOnlyDictionary<Guid, (string State, DateTimeOffset At)> Seen => _seen;

    public bool IsFinal(Guid id) => _seen.TryGetValue(id, out var c) && _settled.Contains(c.State);

    /// <summary>
    /// Until every one of <paramref name="ids"/> is final, or <paramref name="within"/> has passed. With
    /// <paramref name="askById"/> the ones not final yet are also asked for by id every 2 s.
    /// </summary>
    public async Task UntilFinal(ICollection<Guid> ids, TimeSpan within, bool askById, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.Add(within);
        var refreshed = Stopwatch.GetTimestamp();
        while (DateTime.UtcNow < deadline && ids.Any(id => !IsFinal(id)))
        {
            await Task.Delay(100, cancellationToken);
            if (askById && Stopwatch.GetElapsedTime(refreshed) > TimeSpan.FromSeconds(2))
            {
                // The watch reads by time, and misses a commit that became visible later than it looks back: ask for the rest by id.
                await Read(ids.Where(id => !IsFinal(id)).Take(10_000).ToArray(), cancellationToken);
                refreshed = Stopwatch.GetTimestamp();
            }
        }
    }

    public async Task Stop()
    {
        await _stop.CancelAsync();
        await _observer;
        await _waiters;
    }

    public void Dispose()
    {
        _stop.Dispose();
        _someoneWaits.Dispose();
    }

    private async Task AnswerWaiters(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (_waiting.IsEmpty)
                {
                    await _someoneWaits.WaitAsync(cancellationToken);
                    continue;
                }
                try
                {
                    await using var command = _db.CreateCommand($"select id from saga.mt_doc_transfer where id = any($1) and current_state <> '{TransferStates.Prepared}'");
                    command.Parameters.Add(new() { Value = _waiting.Keys.ToArray() });
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        if (_waiting.TryRemove(reader.GetGuid(0), out var waiter))
                        {
                            waiter.TrySetResult();
                        }
                    }
                    Counters.CountOwnQuery();
                }
                catch (NpgsqlException)
                {
                    // PostgreSQL restarting: ask again
                }
                await Task.Delay(5, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The final states of <paramref name="ids"/> in the coordinator's view, kept as the watch keeps them.</summary>
    private async Task Read(Guid[] ids, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _db.CreateCommand("select id, current_state, updated_at from saga.mt_doc_transfer where id = any($1) and current_state = any($2)");
            command.Parameters.Add(new() { Value = ids });
            command.Parameters.Add(new() { Value = FinalStates });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var seen = (reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
                _seen.AddOrUpdate(reader.GetGuid(0), seen, (_, before) => before.At <= seen.Item2 ? seen : before);
            }
            Counters.CountOwnQuery();
        }
        catch (NpgsqlException)
        {
            // PostgreSQL restarting (chaos): the next round asks again
        }
    }

    private async Task Observe(CancellationToken cancellationToken)
    {
        var since = DateTimeOffset.UtcNow.AddMinutes(-1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var command = _db.CreateCommand(
                    "select id, current_state, updated_at from saga.mt_doc_transfer where updated_at > $1 and current_state = any($2)");
                command.Parameters.Add(new() { Value = since });
                command.Parameters.Add(new() { Value = FinalStates });
                var newest = since;
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        var at = reader.GetFieldValue<DateTimeOffset>(2);
                        var seen = (reader.GetString(1), at);
                        // A repaired transfer leaves NeedsAttention for another final state.
                        _seen.AddOrUpdate(reader.GetGuid(0), seen, (_, before) => before.At <= at ? seen : before);
                        newest = at > newest ? at : newest;
                    }
                }
                // Commits land slightly out of order of their timestamps: look back a little each time.
                since = newest.AddSeconds(-2) > since ? newest.AddSeconds(-2) : since;
                Counters.CountOwnQuery();
                await Task.Delay(250, cancellationToken); // latency comes from the stored timestamps, not from when it is seen
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException)
            {
                await Task.Delay(500, CancellationToken.None); // PostgreSQL restarting (chaos)
            }
        }
    }
}
