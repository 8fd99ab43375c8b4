using System.Collections.Concurrent;
using System.Diagnostics;
using Saga.Contracts;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>
/// What a chaos run does beside the load, each given the run's name: its faults (the load lasts until
/// every one is injected), an operator (until every transfer is final), and a wait for the queues and
/// the scheduler to drain before the ledgers are reconciled.
/// </summary>
public sealed record Beside(Func<string, CancellationToken, Task> Faults, Func<string, CancellationToken, Task> Operator, Func<CancellationToken, Task> Settle);

/// <summary>
/// Throughput and latency of transfers submitted through the Api at a fixed concurrency, with what
/// each costs in broker messages, PostgreSQL commits and CPU, and a reconciliation at the end.
/// Completion is observed in the coordinator's transfer view (an instrument, not a client path).
/// </summary>
public static class Bench
{
    public static async Task<int> Run(BenchOptions options, CancellationToken cancellationToken)
    {
        await using var system = LocalSystem.Create(instances: options.Instances, ledgers: options.Ledgers);
        await system.Start(step => Progress(options, step), cancellationToken);
        var result = await Measure(system, options, beside: null, cancellationToken);
        BenchReport.Print(result, options);
        return result.Holds ? 0 : 1;
    }

    /// <summary>
    /// One measured run on a started system, its load spread over every Api; <paramref name="beside"/>
    /// runs beside it (chaos), and then a transfer that needs attention is not final yet: a person acts on it.
    /// </summary>
    public static async Task<BenchResult> Measure(LocalSystem system, BenchOptions options, Beside? beside, CancellationToken cancellationToken)
    {
        var run = "bench-" + Guid.NewGuid().ToString("N")[..6];
        using var apis = new ApiConnections(system.Apis.Select(a => a.BaseAddress), run, Math.Max(64, options.Concurrency));
        // Each service's database on its own; the coordinator's view tells when a transfer is decided.
        await using var databases = system.OpenDatabases();
        var db = databases.Coordinator;
        var needsAttentionIsFinal = beside is null;

        var ledgers = system.LedgerIds;
        Progress(options, $"opening {options.Accounts} accounts in each of ledgers {LedgerIds.Listing(ledgers)}");
        await LoadDriver.OpenAccounts(apis[0], run, options.Accounts, ledgers, cancellationToken);

        var ceilings = options.Ceilings ? await Ceilings.Measure(system, s => Progress(options, s), cancellationToken) : null;
        if (ceilings is not null)
        {
            await Task.Delay(5500, cancellationToken); // let RabbitMQ's statistics count the ceiling's messages before the run starts
        }

        if (options.Warmup > 0)
        {
            // The hosts' JIT reaches its optimised code only after many calls: measured from the start,
            // a cold run reads well under the steady rate. The warm-up is submitted and finished, not measured.
            Progress(options, $"warming up: {options.Warmup} transfers at concurrency {options.Concurrency}");
            var warm = new ConcurrentDictionary<Guid, long>();
            using var warmWatch = TransferWatch.Start(db, needsAttentionIsFinal);
            await LoadDriver.Submit(apis, options, ledgers, options.Warmup, run, $"{run}-warm", warm, warmWatch.WhenDecided, cancellationToken);
            await warmWatch.UntilFinal(warm.Keys, TimeSpan.FromSeconds(60), askById: false, cancellationToken);
            await warmWatch.Stop();
            await Task.Delay(5500, cancellationToken); // RabbitMQ's statistics count the warm-up's last messages
        }

        Progress(options, $"submitting {options.Transfers} transfers at concurrency {options.Concurrency}");
        var before = await Counters.Read(system, databases, cancellationToken);
        var waitsBefore = await PathWaits.Read(system, cancellationToken);
        var submitted = new ConcurrentDictionary<Guid, long>();
        using var watch = TransferWatch.Start(db, needsAttentionIsFinal);
        var startedAt = DateTimeOffset.UtcNow;
        using var stopFaults = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var faultTask = beside?.Faults(run, stopFaults.Token) ?? Task.CompletedTask;
        var operatorTask = beside?.Operator(run, stopFaults.Token) ?? Task.CompletedTask;

        // Under faults the load lasts at least until the last fault is injected, so every fault meets traffic.
        var attempted = await LoadDriver.Submit(apis, options, ledgers, options.Transfers, run, run, submitted, watch.WhenDecided, cancellationToken, until: beside is null ? null : faultTask);
        Progress(options, "waiting until every transfer is final");
        var waitedFrom = Stopwatch.GetTimestamp();
        await watch.UntilFinal(submitted.Keys, TimeSpan.FromSeconds(beside is null ? 60 : 120), askById: true, cancellationToken);
        var pending = submitted.Keys.Count(id => !watch.IsFinal(id));
        Progress(options, pending == 0
            ? $"every transfer final {Stopwatch.GetElapsedTime(waitedFrom).TotalSeconds:0} s after the load"
            : $"{pending} transfer(s) not final {Stopwatch.GetElapsedTime(waitedFrom).TotalSeconds:0} s after the load");
        await stopFaults.CancelAsync();
        await faultTask;
        await operatorTask;
        await watch.Stop();
        if (beside is not null)
        {
            Progress(options, "waiting until the queues and the scheduler are empty");
            await beside.Settle(cancellationToken);
        }

        await Task.Delay(5500, cancellationToken); // RabbitMQ's statistics are collected every 5 s
        var after = await Counters.Read(system, databases, cancellationToken);
        var waits = PathWaits.Between(waitsBefore, await PathWaits.Read(system, cancellationToken));

        var done = watch.Seen.Where(c => submitted.ContainsKey(c.Key) && c.Value.State == TransferStates.Completed).ToList();
        var latencies = new Latencies();
        foreach (var (id, (_, at)) in done)
        {
            latencies.Record(submitted[id], at);
        }
        var lastCompletion = done.Count > 0 ? done.Max(d => d.Value.At) : DateTimeOffset.UtcNow;
        var seconds = Math.Max(0.001, (lastCompletion - startedAt).TotalSeconds);
        var cost = CostPerTransfer.Between(before, after, submitted.Count);
        var reconciliation = await Reconciliation.Read(databases, ledgers, run, cancellationToken);
        return new BenchResult(
            run, attempted, attempted - submitted.Count, options.Concurrency, done.Count, submitted.Keys.Count(id => !watch.IsFinal(id)),
            done.Count / seconds,
            latencies.Ms(50), latencies.Ms(95), latencies.Ms(99), latencies.MaxMs,
            cost.Messages, cost.Commits, cost.WalFlushes, cost.CpuSecondsPer1000,
            reconciliation.Conserved, reconciliation.Duplicates, reconciliation.CreditsWithoutDebit,
            watch.Seen.Where(c => submitted.ContainsKey(c.Key)).GroupBy(c => c.Value.State).ToDictionary(g => g.Key, g => g.Count()),
            ceilings, reconciliation.Pairs, waits, submitted.Keys.ToList());
    }

    private static void Progress(BenchOptions options, string step)
    {
        if (!options.Json)
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]{step}[/]");
        }
    }
}
