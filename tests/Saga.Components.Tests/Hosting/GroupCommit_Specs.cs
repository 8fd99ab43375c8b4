using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Saga.Components.Hosting;
using Saga.Testing;

namespace Saga.Components.Tests.Hosting;

/// <summary>
/// The group commit on its own, with a batch writer that records its batches. The first batch is held
/// at a gate, so what callers submit meanwhile is queued, and forms the next batch, for certain.
/// </summary>
public sealed class GroupCommit_Specs : IAsyncLifetime
{
    private readonly ConcurrentQueue<int[]> _batches = new();
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly GroupCommit<int, string> _commit;

    public GroupCommit_Specs() => _commit = Commit();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _commit.DisposeAsync();

    /// <summary>Writes "#n" for each item; the batch with item 0 waits at the gate; a batch holding a negative item fails.</summary>
    private GroupCommit<int, string> Commit(Func<Exception, bool>? halves = null) => new(async (items, cancellationToken) =>
    {
        _batches.Enqueue([.. items]);
        if (items.Contains(0))
        {
            await _gate.Task.WaitAsync(cancellationToken);
        }
        if (items.Any(i => i < 0))
        {
            throw new InvalidOperationException($"bad item in [{string.Join(", ", items)}]");
        }
        return items.Select(i => $"#{i}").ToList();
    }, maxBatch: 256, halves);

    /// <summary>Submits item 0 and waits until its batch is at the gate: everything submitted next is queued.</summary>
    private async Task<Task<string>> HoldTheWriter(GroupCommit<int, string> commit)
    {
        var first = commit.Run(0);
        await Eventually.Until(() => _batches.Any(b => b.Contains(0)), "the first batch reached the gate");
        return first;
    }

    [Fact]
    public async Task A_lone_item_is_written_at_once_in_a_batch_of_its_own()
    {
        _gate.SetResult();

        Assert.Equal("#7", await _commit.Run(7));
        Assert.Equal(new[] { new[] { 7 } }, _batches);
    }

    [Fact]
    public async Task Items_waiting_at_the_same_moment_are_written_as_one_batch_each_getting_its_own_result()
    {
        var first = await HoldTheWriter(_commit);
        var waiting = Enumerable.Range(1, 50).Select(i => _commit.Run(i)).ToList();

        _gate.SetResult();

        Assert.Equal("#0", await first);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"#{i}"), await Task.WhenAll(waiting));
        Assert.Equal(new[] { new[] { 0 }, Enumerable.Range(1, 50).ToArray() }, _batches);
    }

    [Fact]
    public async Task A_failing_item_fails_alone_and_the_others_of_its_batch_are_written()
    {
        var first = await HoldTheWriter(_commit);
        var items = new[] { 1, 2, 3, -4, 5, 6, 7, 8 };
        var waiting = items.Select(i => _commit.Run(i)).ToList();

        _gate.SetResult();
        await first;

        for (var i = 0; i < items.Length; i++)
        {
            if (items[i] < 0)
            {
                await Assert.ThrowsAsync<InvalidOperationException>(() => waiting[i]);
            }
            else
            {
                Assert.Equal($"#{items[i]}", await waiting[i]);
            }
        }
        Assert.Contains(_batches, b => b is [-4]);
        // Each good item written once: the failed batches wrote nothing.
        var written = _batches.Where(b => !b.Any(i => i < 0)).SelectMany(b => b).Where(i => i > 0).Order();
        Assert.Equal(items.Where(i => i > 0), written);
    }

    [Fact]
    public async Task A_failure_no_item_causes_fails_the_batch_at_once_without_halving()
    {
        await using var commit = Commit(halves: _ => false);
        var first = await HoldTheWriter(commit);
        var waiting = new[] { 1, -2, 3, 4 }.Select(i => commit.Run(i)).ToList();

        _gate.SetResult();
        await first;

        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => task);
        }
        Assert.Equal(2, _batches.Count);
    }

    [Fact]
    public async Task A_caller_that_cancels_while_queued_is_left_out_and_the_others_are_written()
    {
        var first = await HoldTheWriter(_commit);
        using var cancel = new CancellationTokenSource();
        var kept = _commit.Run(1);
        var cancelled = _commit.Run(2, cancel.Token);
        var alsoKept = _commit.Run(3);

        await cancel.CancelAsync();
        _gate.SetResult();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(("#0", "#1", "#3"), (await first, await kept, await alsoKept));
        Assert.Equal(new[] { new[] { 0 }, new[] { 1, 3 } }, _batches);
    }

    [Fact]
    public async Task Disposal_fails_what_is_queued_and_refuses_what_comes_after()
    {
        var first = await HoldTheWriter(_commit);
        var queued = _commit.Run(1);

        await _commit.DisposeAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first); // the batch in flight was cancelled
        await Assert.ThrowsAsync<ObjectDisposedException>(() => queued);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => _commit.Run(2));
        Assert.DoesNotContain(_batches, b => b.Contains(1));
    }

    [Fact]
    public async Task A_named_group_commit_records_each_items_wait_and_each_transactions_size()
    {
        var writer = "spec-" + Guid.NewGuid().ToString("N");
        var waits = new ConcurrentQueue<double>();
        var sizes = new ConcurrentQueue<int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.SagaMeter && instrument.Name is "saga.commit.wait" or "saga.commit.size")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        bool Ours(ReadOnlySpan<KeyValuePair<string, object?>> tags) => tags.ToArray().Contains(new KeyValuePair<string, object?>("writer", writer));
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            if (Ours(tags))
            {
                waits.Enqueue(value);
            }
        });
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            if (Ours(tags))
            {
                sizes.Enqueue(value);
            }
        });
        listener.Start();
        await using var named = new GroupCommit<int, string>((items, _) => Task.FromResult<IReadOnlyList<string>>([.. items.Select(i => $"#{i}")]), writer: writer);

        await Task.WhenAll(Enumerable.Range(1, 5).Select(i => named.Run(i)));

        Assert.Equal(5, waits.Count);
        Assert.All(waits, w => Assert.True(w >= 0));
        Assert.Equal(5, sizes.Sum());
    }
}
