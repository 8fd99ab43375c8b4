using System.Text.Json;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>What a run found, for a person (a table) or, with <c>--json</c>, for a script.</summary>
public static class BenchReport
{
    /// <summary>The results; without the reconciliation when the caller reconciles in its own terms (chaos writes debits off).</summary>
    public static void Print(BenchResult result, BenchOptions options, bool withReconciliation = true)
    {
        if (options.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            PrintPairs(result);
            Console.WriteLine(result.Line);
            return;
        }
        var table = new Table().AddColumns("figure", "value");
        table.AddRow("completed", $"{result.Completed} of {result.Transfers} ({result.NotFinal} not final, {result.Refused} refused by the Api)");
        table.AddRow("final states", string.Join(", ", result.FinalStates.OrderByDescending(f => f.Value).Select(f => $"{f.Key} {f.Value}")));
        table.AddRow("completed transfers/s", $"{result.Tps:0}");
        table.AddRow("latency submit→Completed p50 / p95 / p99 / max", $"{result.P50Ms:0.0} / {result.P95Ms:0.0} / {result.P99Ms:0.0} / {result.MaxMs:0.0} ms");
        table.AddRow("broker messages per transfer", result.MsgsPerTransfer >= 0 ? $"{result.MsgsPerTransfer:0.00}" : "n/a (the broker restarted)");
        table.AddRow("PostgreSQL transactions per transfer (WAL flushes)", $"{result.CommitsPerTransfer:0.00} ({result.WalFlushesPerTransfer:0.00})");
        foreach (var (process, cpu) in result.CpuSecondsPer1000)
        {
            table.AddRow($"CPU s per 1,000 transfers: {process}", $"{cpu:0.00}");
        }
        foreach (var (host, text) in PathWaits.Describe(result.Waits ?? []))
        {
            table.AddRow($"mean waits: {host}", text);
        }
        if (result.Ceilings is { } ceilings)
        {
            foreach (var (name, value) in ceilings)
            {
                table.AddRow($"ceiling: {name}", $"{value:0} /s (we: {result.Tps / value:P1} of it in transfers/s)");
            }
        }
        if (!withReconciliation)
        {
            AnsiConsole.Write(table);
            return;
        }
        table.AddRow("money conserved", result.Conserved ? "yes" : "NO");
        table.AddRow("duplicate credits", result.Duplicates.ToString());
        table.AddRow("credits without a debit", result.CreditsWithoutDebit.ToString());
        table.AddRow("ledger pairs whose debits and credits agree", $"{result.Pairs.Count(p => p.Holds)} of {result.Pairs.Count}");
        AnsiConsole.Write(table);
        PrintPairs(result);
        Console.WriteLine(result.Line);
    }

    private static void PrintPairs(BenchResult result)
    {
        foreach (var pair in result.Pairs)
        {
            Console.WriteLine(pair.Line);
        }
    }
}
