using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Marten;
using Microsoft.Extensions.Logging;
using Saga.Components.Hosting;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.EventStore;

/// <summary>
/// Writes transfers for the saga repository: the events a message recorded, with the view, under the
/// stream's expected version. Commits waiting at the same time go to PostgreSQL as one transaction
/// (group commit): one round trip and one WAL flush for all of them, and no waiting when there is
/// only one. Keeps the last committed state of transfers still in flight, so the next message for a
/// transfer needs no read; a stale copy (another coordinator wrote first) fails its commit on the
/// expected version like any concurrent append, and is then dropped. A copy leaves memory when its
/// transfer ends here, or after <see cref="CopyLifetime"/>, when another coordinator may have ended it.
/// </summary>
public sealed class TransferCommits(IDocumentStore store, TransferMetrics metrics, ILogger<TransferCommits> logger, TimeProvider clock) : IAsyncDisposable
{
    private const int MaxBatch = 256;
    private const int MaxInFlight = 100_000;
    private const string Writer = "transfers";

    /// <summary>
    /// How long a copy is kept after the commit that made it. The next message of a transfer on the hot
    /// path (its commit, its credit) follows within seconds; after this long the copy mostly waits for a
    /// transfer finished elsewhere, and a read costs the message less than a stale copy's failed commit.
    /// At the measured ~600 transfers/s this holds about 20,000 copies, well under <see cref="MaxInFlight"/>.
    /// </summary>
    internal static readonly TimeSpan CopyLifetime = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    private readonly Channel<PendingCommit> _queue = Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Guid, HeldCopy> _inFlight = new();
    private readonly Lock _start = new();
    private Task? _writer;
    private long _lastSweep = clock.GetTimestamp();
    private long _conflicts;

    /// <summary>A copy of the transfer as last committed here, when it is still in flight.</summary>
    public TransferState? InFlight(Guid transferId) => Held(transferId)?.State.Copy();

    public bool IsInFlight(Guid transferId) => Held(transferId) is not null;

    internal int CopiesHeld => _inFlight.Count;

    /// <summary>Commits refused because the transfer had moved on (another coordinator, or a stale copy).</summary>
    internal long Conflicts => Interlocked.Read(ref _conflicts);

    /// <summary>
    /// Commits what the state machine recorded on <paramref name="state"/> (nothing recorded, nothing
    /// written); a stale expected version becomes MassTransit's <see cref="MassTransit.ConcurrencyException"/>.
    /// </summary>
    public Task Commit(TransferState state, Type messageType)
    {
        if (state.PendingEvents.Count == 0)
        {
            return Task.CompletedTask;
        }
        var pending = new PendingCommit(state, messageType);
        state.PendingEvents.Clear();
        EnsureWriter();
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(TransferCommits), "the coordinator is stopping");
        }
        return Timed(pending.Done.Task);
    }

    private static async Task Timed(Task done)
    {
        var asked = Stopwatch.GetTimestamp();
        try
        {
            await done.ConfigureAwait(false);
        }
        finally
        {
            PathMetrics.Waited(Writer, Stopwatch.GetElapsedTime(asked));
        }
    }

    /// <summary>Writes <paramref name="commits"/> in one transaction; any failure writes none of them.</summary>
    internal static async Task Write(IDocumentStore store, IReadOnlyList<PendingCommit> commits)
    {
        await using var session = store.LightweightSession();
        foreach (var commit in commits)
        {
            if (commit.FromVersion == 0)
            {
                session.Events.StartStream<TransferState>(commit.TransferId, commit.Events);
            }
            else
            {
                session.Events.Append(commit.TransferId, commit.View.Version, commit.Events);
            }
            session.Store(commit.View);
        }
        await session.SaveChangesAsync().ConfigureAwait(false);
    }

    private void EnsureWriter()
    {
        if (_writer is not null)
        {
            return;
        }
        lock (_start)
        {
            _writer ??= Task.Run(WriteLoop);
        }
    }

    private async Task WriteLoop()
    {
        var batch = new List<PendingCommit>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            SweepOldCopies();
            await WriteBatch(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    /// <summary>
    /// Writes <paramref name="batch"/> as one transaction per round, each round holding at most one commit
    /// per transfer; a transfer's later commits wait for the next round.
    /// </summary>
    /// <remarks>
    /// In one session Marten merges a second append to a stream into the first, under the last expected
    /// version: that fails the whole transaction, and when the first commit has more events than the
    /// stream's version it fails with an error that is no version conflict, failing every other transfer
    /// in the batch. Alone in its round, a later commit built from the same version conflicts as usual.
    /// </remarks>
    internal async Task WriteBatch(IReadOnlyList<PendingCommit> batch)
    {
        var round = batch;
        while (round.Count > 0)
        {
            var streams = new HashSet<Guid>();
            var now = new List<PendingCommit>(round.Count);
            var later = new List<PendingCommit>();
            foreach (var commit in round)
            {
                (streams.Add(commit.TransferId) ? now : later).Add(commit);
            }
            await WriteRound(now).ConfigureAwait(false);
            round = later;
        }
    }

    private async Task WriteRound(IReadOnlyList<PendingCommit> batch)
    {
        try
        {
            await Write(store, batch).ConfigureAwait(false);
            PathMetrics.Wrote(Writer, batch.Count);
            foreach (var commit in batch)
            {
                Succeeded(commit);
            }
        }
        catch (Exception e) when (batch.Count > 1 && IsConflict(e))
        {
            // One stale commit fails the transaction. Halving until it stands alone costs about two
            // transactions per level (16 for one in 256), where writing each on its own cost 256: with
            // several coordinators, stale copies are common enough that this decided the CPU per transfer.
            var half = batch.Count / 2;
            await WriteRound(batch.Take(half).ToList()).ConfigureAwait(false);
            await WriteRound(batch.Skip(half).ToList()).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            foreach (var commit in batch)
            {
                Failed(commit, e);
            }
        }
    }

    private void Succeeded(PendingCommit commit)
    {
        commit.State.Version = commit.View.Version;
        if (TransferStates.IsInFlight(commit.View.CurrentState)
            && (_inFlight.Count < MaxInFlight || _inFlight.ContainsKey(commit.TransferId)))
        {
            _inFlight[commit.TransferId] = new HeldCopy(commit.View, clock.GetTimestamp());
        }
        else
        {
            _inFlight.TryRemove(commit.TransferId, out _);
        }
        try
        {
            metrics.Committed(commit.View, commit.Events);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Transfer metrics not recorded");
        }
        commit.Done.TrySetResult();
    }

    private void Failed(PendingCommit commit, Exception e)
    {
        _inFlight.TryRemove(commit.TransferId, out _);
        if (!IsConflict(e))
        {
            commit.Done.TrySetException(e);
            return;
        }
        Interlocked.Increment(ref _conflicts);
        metrics.Conflicted(commit.MessageType);
        commit.Done.TrySetException(new MassTransit.ConcurrencyException(
            $"Transfer {commit.TransferId} changed while {commit.MessageType.Name} was handled", typeof(TransferState), commit.TransferId, e));
    }

    private HeldCopy? Held(Guid transferId)
    {
        if (!_inFlight.TryGetValue(transferId, out var held))
        {
            return null;
        }
        if (clock.GetElapsedTime(held.Since) < CopyLifetime)
        {
            return held;
        }
        // Only this copy: a commit may have put a newer one in its place meanwhile.
        _inFlight.TryRemove(KeyValuePair.Create(transferId, held));
        return null;
    }

    // Copies nobody asks for again leave too; sweeping from the writer bounds memory while commits come in.
    private void SweepOldCopies()
    {
        var now = clock.GetTimestamp();
        if (clock.GetElapsedTime(_lastSweep, now) < SweepInterval)
        {
            return;
        }
        _lastSweep = now;
        foreach (var entry in _inFlight)
        {
            if (clock.GetElapsedTime(entry.Value.Since, now) >= CopyLifetime)
            {
                _inFlight.TryRemove(entry);
            }
        }
    }

    // A stale expected version, or a second half message starting the same stream.
    private static bool IsConflict(Exception e) =>
        e is JasperFx.ConcurrencyException or Marten.Exceptions.ExistingStreamIdCollisionException
        || (e is AggregateException a && a.InnerExceptions.All(IsConflict));

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is { } writer)
        {
            await writer.ConfigureAwait(false);
        }
    }

    private sealed class HeldCopy(TransferState state, long since)
    {
        public TransferState State { get; } = state;

        /// <summary>When it was committed, as a <see cref="TimeProvider.GetTimestamp"/>.</summary>
        public long Since { get; } = since;
    }

    internal sealed class PendingCommit
    {
        public PendingCommit(TransferState state, Type messageType)
        {
            State = state;
            MessageType = messageType;
            Events = [.. state.PendingEvents];
            FromVersion = state.Version;
            View = state.Copy();
            View.Version = state.Version + Events.Length;
        }

        public TransferState State { get; }
        public Type MessageType { get; }
        public object[] Events { get; }
        public long FromVersion { get; }

        /// <summary>The transfer as it will be once committed: stored as the view, and kept while in flight.</summary>
        public TransferState View { get; }

        public Guid TransferId => State.CorrelationId;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
