using System.Globalization;

namespace Saga.Cli;

public sealed record BenchOptions(int Transfers, int Concurrency, int Accounts, double Hot, bool Ceilings, bool Json, int Warmup = 0, double Rate = 0,
    Instances? Instances = null, IReadOnlyList<string>? Ledgers = null)
{
    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is >= 0 and var i && i + 1 < args.Length ? args[i + 1] : null;
        return new BenchOptions(
            int.Parse(Value("--transfers") ?? "20000", CultureInfo.InvariantCulture),
            int.Parse(Value("--concurrency") ?? "64", CultureInfo.InvariantCulture),
            int.Parse(Value("--accounts") ?? "1000", CultureInfo.InvariantCulture),
            double.Parse(Value("--hot") ?? "0", CultureInfo.InvariantCulture),
            args.Contains("--ceilings"),
            args.Contains("--json"),
            int.Parse(Value("--warmup") ?? "5000", CultureInfo.InvariantCulture),
            double.Parse(Value("--rate") ?? "0", CultureInfo.InvariantCulture),
            // Processes of each role competing on the same queues: the scale-out docs/scaling.md measures.
            new Instances(
                int.Parse(Value("--coordinators") ?? "1", CultureInfo.InvariantCulture),
                int.Parse(Value("--ledger-instances") ?? "1", CultureInfo.InvariantCulture),
                int.Parse(Value("--apis") ?? "1", CultureInfo.InvariantCulture)),
            LedgerIds.Parse(args));
    }
}
