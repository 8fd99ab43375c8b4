using System.Diagnostics;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>
/// A bench run under faults: kill -9 and restart a ledger, the coordinator and the Api; restart
/// RabbitMQ and PostgreSQL; switch on B's transient failures. Then every transfer must be final,
/// money conserved, no credit doubled. Exit non-zero on any violation.
/// </summary>
public static class Chaos
{
    /// <summary>The fault order and timing come from a seed, printed with the result, so a failing run can be replayed.</summary>
    public static int Seed(string[] args) =>
        Array.IndexOf(args, "--seed") is >= 0 and var i && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    public static async Task<int> Run(bool quick, int seed, CancellationToken cancellationToken)
    {
        var options = new BenchOptions(Transfers: quick ? 3000 : 20000, Concurrency: 32, Accounts: quick ? 200 : 1000, Hot: 0, Ceilings: false, Json: false);
        await using var system = LocalSystem.Create(ledgerB: new() { ["Ledger__FaultInjection__Enabled"] = "true" });
        await system.Start(s => AnsiConsole.MarkupLineInterpolated($"[grey]{s}[/]"), cancellationToken);
        var injected = new List<string>();

        async Task Faults(CancellationToken stop)
        {
            var random = new Random(seed);
            var faults = new List<(string Name, Func<Task> Inject)>
            {
                ("kill -9 ledger B and restart it", () => system.Restart(system.LedgerB, kill: true, stop)),
                ("kill -9 the coordinator and restart it", () => system.Restart(system.Coordinator, kill: true, stop)),
                ("kill -9 ledger A and restart it", () => system.Restart(system.LedgerA, kill: true, stop)),
                ("kill -9 the Api and restart it", () => system.Restart(system.Api, kill: true, stop)),
                ("restart RabbitMQ", () => Service(["/etc/init.d/rabbitmq-server", "restart"])),
                ("restart PostgreSQL", () => Service(["pg_ctlcluster", PostgresVersion(), "main", "restart"])),
                ("switch on B's transient credit failures (20%) and restart it", () =>
                {
                    system.LedgerB.Set("Ledger__FaultInjection__TransientFailureRate", "0.2");
                    return system.Restart(system.LedgerB, kill: false, stop);
                }),
            };
            foreach (var (name, inject) in faults.OrderBy(_ => random.Next()))
            {
                await Task.Delay(TimeSpan.FromSeconds(random.Next(quick ? 2 : 5, quick ? 5 : 12)), stop).ContinueWith(_ => { }, CancellationToken.None);
                if (stop.IsCancellationRequested)
                {
                    return;
                }
                AnsiConsole.MarkupLineInterpolated($"[yellow]fault[/] at {DateTime.Now:HH:mm:ss}: {name}");
                injected.Add(name);
                try
                {
                    await inject();
                }
                catch (Exception e)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]fault injection failed[/]: {e.Message}");
                }
            }
        }

        var result = await Bench.Measure(system, options, Faults, cancellationToken);
        Bench.Print(result, options);
        AnsiConsole.MarkupLine($"faults injected: {injected.Count} (replay with --seed {seed})");
        foreach (var fault in injected)
        {
            AnsiConsole.MarkupLineInterpolated($"  - {fault}");
        }
        foreach (var host in system.Hosts.Where(h => h.Restarts > 0))
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{host.Name} exited on its own {host.Restarts} time(s) and was started again[/] (see {host.LogFile})");
        }
        // A transfer handed to a person must say why; one without a reason is a violation.
        var unexplained = 0;
        await using (var db = system.OpenDatabase())
        {
            await using var command = db.CreateCommand(
                "select id, data->>'Reason' from saga.mt_doc_transfer where current_state = 'NeedsAttention' and data->>'FromAccount' like $1");
            command.Parameters.Add(new() { Value = result.Run + "-%" });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var reason = reader.IsDBNull(1) ? null : reader.GetString(1);
                unexplained += string.IsNullOrWhiteSpace(reason) ? 1 : 0;
                AnsiConsole.MarkupLineInterpolated($"  needs attention: {reader.GetGuid(0)}: {reason ?? "(no reason)"}");
            }
        }
        var ok = result.Holds && unexplained == 0;
        if (!ok)
        {
            // Where messages stopped: a queue without consumers, or with messages left, points at the host to look at.
            var table = new Table().AddColumns("queue", "consumers", "ready", "unacked");
            foreach (var (name, consumers, ready, unacked) in await Counters.Queues(system, cancellationToken))
            {
                table.AddRow(name, consumers.ToString(), ready.ToString(), unacked.ToString());
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"the hosts' logs: {Path.GetDirectoryName(system.LedgerA.LogFile)}");
        }
        AnsiConsole.MarkupLine(ok
            ? "[green]chaos passed[/]: every transfer final, money conserved, no duplicate credit"
            : $"[red]chaos FAILED[/]: conserved={result.Conserved} duplicates={result.Duplicates} credits without a debit={result.CreditsWithoutDebit} not final={result.NotFinal} needs attention without a reason={unexplained}");
        return ok ? 0 : 1;
    }

    private static string PostgresVersion() =>
        Directory.EnumerateDirectories("/etc/postgresql").Select(Path.GetFileName).OrderBy(v => int.TryParse(v, out var n) ? n : 0).Last()!;

    private static async Task Service(string[] command)
    {
        using var process = Process.Start(new ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', command)} exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
        }
    }
}
