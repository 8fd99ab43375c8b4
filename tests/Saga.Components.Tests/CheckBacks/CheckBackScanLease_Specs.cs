using System.Collections.Concurrent;
using Marten;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Saga.Components.CheckBacks;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.Tests.CheckBacks;

/// <summary>
/// The scan alone, counted. No saga consumes what it sends, so every transfer stays due as it would
/// behind a backlog; the transfers are written as the view the scan reads, nothing else.
/// </summary>
public sealed class CheckBackScanLease_Specs : IAsyncLifetime
{
    private const int BatchSize = 4;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly PostgresSchema _schema = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));
    private readonly SentCheckBacks _sent = new();
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;

    public async Task InitializeAsync()
    {
        await _schema.InitializeAsync();
        _provider = new ServiceCollection()
            .AddSingleton<TimeProvider>(_clock)
            .AddSingleton<IDocumentStore>(_schema.Store)
            .Configure<CheckBackScanOptions>(o => (o.BatchSize, o.Lease) = (BatchSize, Lease))
            .AddSingleton<CheckBackScan>()
            .AddMassTransitTestHarness()
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.Bus.ConnectSendObserver(_sent);
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
        await _schema.DisposeAsync();
    }

    private CheckBackScan Scan => _provider.GetRequiredService<CheckBackScan>();

    [Fact]
    public async Task Each_due_transfer_is_sent_once_per_lease()
    {
        var ids = await Due(3 * BatchSize + 1);

        Assert.Equal(ids.Count, await ScanAfter(Interval));
        Assert.Equal(Sorted(ids.Select(id => new CheckBackDue(id, 1))), Sorted(_sent.Take()));

        Assert.Equal(0, await ScanAfter(Interval));
        Assert.Equal(0, await ScanAfter(Lease - Interval - TimeSpan.FromTicks(1)));
        Assert.Empty(_sent.Take());

        Assert.Equal(ids.Count, await ScanAfter(TimeSpan.FromTicks(1)));
        Assert.Equal(Sorted(ids.Select(id => new CheckBackDue(id, 1))), Sorted(_sent.Take()));
    }

    [Fact]
    public async Task A_transfer_due_again_with_a_new_due_time_is_sent_inside_the_old_lease()
    {
        var ids = await Due(3);
        var (waiting, checkedBack, resent) = (ids[0], ids[1], ids[2]);
        Assert.Equal(3, await ScanAfter(Interval));
        _sent.Take();

        var next = _clock.GetUtcNow() + TimeSpan.FromSeconds(12);
        await Update(checkedBack, t => (t.CheckBacks, t.ScanDueAt) = (1, next)); // check-back 1 sent, the next due
        await Update(resent, t => t.ScanDueAt = next); // a credit sent again: same attempt, a later due time

        Assert.Equal(0, await ScanAfter(TimeSpan.FromSeconds(11)));
        Assert.Equal(2, await ScanAfter(TimeSpan.FromSeconds(1)));
        Assert.Equal(Sorted([new CheckBackDue(checkedBack, 2), new CheckBackDue(resent, 1)]), Sorted(_sent.Take()));
        Assert.Equal(1, await ScanAfter(Lease - TimeSpan.FromSeconds(12))); // the first lease is over, the new ones run on
        Assert.Equal([new CheckBackDue(waiting, 1)], _sent.Take());
    }

    [Fact]
    public async Task A_transfer_the_saga_made_due_again_at_the_same_time_and_attempt_is_sent_inside_the_old_lease()
    {
        var ids = await Due(2);
        Assert.Equal(2, await ScanAfter(Interval));
        _sent.Take();

        await Update(ids[0], _ => { }); // a recheck: it needed attention, and was made due again in the same clock tick

        Assert.Equal(1, await ScanAfter(TimeSpan.Zero));
        Assert.Equal([new CheckBackDue(ids[0], 1)], _sent.Take());
    }

    [Fact]
    public async Task Pages_of_leased_transfers_do_not_hide_the_newly_due_behind_them()
    {
        await Due(2 * BatchSize);
        Assert.Equal(2 * BatchSize, await ScanAfter(Interval));
        _sent.Take();

        var later = await Due(BatchSize + 1);

        Assert.Equal(later.Count, await ScanAfter(Interval));
        Assert.Equal(Sorted(later.Select(id => new CheckBackDue(id, 1))), Sorted(_sent.Take()));
    }

    [Fact]
    public async Task Expired_leases_are_dropped()
    {
        var ids = await Due(2 * BatchSize + 1);
        Assert.Equal(ids.Count, await ScanAfter(Interval));
        Assert.Equal(ids.Count, Scan.Leases);

        foreach (var id in ids)
        {
            await Update(id, t => t.ScanDueAt = null); // answered or completed: nothing more to scan for
        }
        Assert.Equal(0, await ScanAfter(Lease));
        Assert.Equal(0, Scan.Leases);
    }

    /// <summary>Transfers due one millisecond apart from now on, in that order.</summary>
    private async Task<IReadOnlyList<Guid>> Due(int count)
    {
        var first = _clock.GetUtcNow();
        var ids = Enumerable.Range(0, count).Select(_ => NewId.NextGuid()).ToList();
        await using var session = _schema.Store.LightweightSession();
        for (var i = 0; i < count; i++)
        {
            session.Store(new TransferState { CorrelationId = ids[i], CurrentState = TransferStates.Prepared, ScanDueAt = first + TimeSpan.FromMilliseconds(i) });
        }
        await session.SaveChangesAsync();
        return ids;
    }

    /// <summary>Changes the transfer as a commit of the saga would: a new version.</summary>
    private async Task Update(Guid id, Action<TransferState> change)
    {
        await using var session = _schema.Store.LightweightSession();
        var transfer = await session.LoadAsync<TransferState>(id);
        change(transfer!);
        transfer!.Version++;
        session.Store(transfer!);
        await session.SaveChangesAsync();
    }

    private async Task<int> ScanAfter(TimeSpan advance)
    {
        _clock.Advance(advance);
        return await Scan.RunOnce();
    }

    private static List<CheckBackDue> Sorted(IEnumerable<CheckBackDue> messages) =>
        messages.OrderBy(m => m.TransferId).ThenBy(m => m.Attempt).ToList();

    /// <summary>The check-backs sent since the last <see cref="Take"/>.</summary>
    private sealed class SentCheckBacks : ISendObserver
    {
        private readonly ConcurrentQueue<CheckBackDue> _sent = new();

        public List<CheckBackDue> Take()
        {
            var taken = new List<CheckBackDue>();
            while (_sent.TryDequeue(out var message))
            {
                taken.Add(message);
            }
            return taken;
        }

        public Task PreSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;

        public Task PostSend<T>(SendContext<T> context) where T : class
        {
            if (context.Message is CheckBackDue due)
            {
                _sent.Enqueue(due);
            }
            return Task.CompletedTask;
        }

        public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}
