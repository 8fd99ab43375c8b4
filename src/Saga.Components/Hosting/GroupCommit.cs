using System.Diagnostics;
using System.Threading.Channels;

namespace Saga.Components.Hosting;

/// <summary>
/// Group commit: items waiting at the same moment are written by one call of the batch writer (one
/// transaction, one round trip, one WAL flush for all of them). One writer loop takes whatever is queued
/// when it is free, so a lone item is written at once: there is no timer and no wait for company. When
/// a batch fails, it is halved until the failing item stands alone, so one bad item never fails the
/// others; only that item gets the exception.
/// </summary>
/// <remarks>
/// The batch writer returns one result per item, in the items' order, and must write either all of
/// them or none (a transaction): a halved batch is written again.
/// </remarks>
public sealed class GroupCommit<TItem, TResult> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> _write;
    private readonly Func<Exception, bool> _halves;
    private readonly int _maxBatch;
    private readonly string? _name;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _start = new();
    private Task? _writer;

    /// <param name="write">Writes a batch as one transaction; returns one result per item, in order.</param>
    /// <param name="halves">
    /// Whether a failed batch is halved to find the item at fault; by default every failure. A failure
    /// no item causes (a lost connection) had better fail the batch at once than be tried 2n-1 times.
    /// </param>
    /// <param name="writer">When named, its waits and transactions are recorded (<see cref="PathMetrics"/>).</param>
    public GroupCommit(
        Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> write,
        int maxBatch = 256,
        Func<Exception, bool>? halves = null,
        string? writer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _write = write;
        _maxBatch = maxBatch;
        _halves = halves ?? (_ => true);
        _name = writer;
    }

    /// <summary>
    /// Writes <paramref name="item"/> with whatever else is waiting. A caller that cancels while its item
    /// is still queued is left out of the batch; once the batch is being written, the caller stops
    /// waiting but the item may still be written, as with any statement cancelled in flight.
    /// </summary>
    public async Task<TResult> Run(TItem item, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(item);
        EnsureWriter();
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(GetType().Name);
        }
        using var cancelled = cancellationToken.Register(
            static (state, token) => ((Pending)state!).Done.TrySetCanceled(token), pending);
        var asked = Stopwatch.GetTimestamp();
        try
        {
            return await pending.Done.Task.ConfigureAwait(false);
        }
        finally
        {
            if (_name is not null)
            {
                PathMetrics.Waited(_name, Stopwatch.GetElapsedTime(asked));
            }
        }
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
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next))
            {
                if (!next.Done.Task.IsCompleted)
                {
                    batch.Add(next);
                }
            }
            if (_stopping.IsCancellationRequested)
            {
                Fail(batch, new ObjectDisposedException(GetType().Name));
            }
            else if (batch.Count > 0)
            {
                await Write(batch).ConfigureAwait(false);
            }
            batch.Clear();
        }
    }

    private async Task Write(List<Pending> batch)
    {
        IReadOnlyList<TResult> results;
        try
        {
            results = await _write(batch.ConvertAll(p => p.Item), _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (batch.Count > 1 && !_stopping.IsCancellationRequested && _halves(e))
        {
            var half = batch.Count / 2;
            await Write(batch.GetRange(0, half)).ConfigureAwait(false);
            await Write(batch.GetRange(half, batch.Count - half)).ConfigureAwait(false);
            return;
        }
        catch (Exception e)
        {
            Fail(batch, e);
            return;
        }
        if (results.Count != batch.Count)
        {
            Fail(batch, new InvalidOperationException($"the batch writer returned {results.Count} results for {batch.Count} items"));
            return;
        }
        if (_name is not null)
        {
            PathMetrics.Wrote(_name, batch.Count);
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }
    }

    private static void Fail(List<Pending> batch, Exception e)
    {
        foreach (var pending in batch)
        {
            pending.Done.TrySetException(e);
        }
    }

    /// <summary>
    /// Takes no more items and fails those still queued with <see cref="ObjectDisposedException"/>; the
    /// batch being written is cancelled, so a database that does not answer cannot hold the disposal.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? writer;
        lock (_start)
        {
            writer = _writer;
        }
        if (writer is not null)
        {
            await writer.ConfigureAwait(false);
        }
    }

    private sealed class Pending(TItem item)
    {
        public TItem Item { get; } = item;
        public TaskCompletionSource<TResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
