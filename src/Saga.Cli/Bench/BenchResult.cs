using System.Globalization;
using System.Text.Json.Serialization;

namespace Saga.Cli;

public sealed record BenchResult(
    string Run, int Transfers, int Refused, int Concurrency, int Completed, int NotFinal, double Tps, double P50Ms, double P95Ms, double P99Ms, double MaxMs,
    double MsgsPerTransfer, double CommitsPerTransfer, double WalFlushesPerTransfer, Dictionary<string, double> CpuSecondsPer1000,
    bool Conserved, long Duplicates, long CreditsWithoutDebit, Dictionary<string, int> FinalStates, Dictionary<string, double>? Ceilings,
    IReadOnlyList<LedgerPair> Pairs,
    IReadOnlyList<PathWait>? Waits = null,
    [property: JsonIgnore] IReadOnlyCollection<Guid>? Accepted = null)
{
    /// <summary>Every invariant the reconciliation checks.</summary>
    public bool Holds => Conserved && Duplicates == 0 && CreditsWithoutDebit == 0 && NotFinal == 0 && Pairs.All(p => p.Holds);

    public string Line => string.Create(CultureInfo.InvariantCulture,
        $"transfers={Transfers} concurrency={Concurrency} tps={Tps:0} p50_ms={P50Ms:0.0} p95_ms={P95Ms:0.0} p99_ms={P99Ms:0.0} msgs_per_transfer={MsgsPerTransfer:0.00} commits_per_transfer={CommitsPerTransfer:0.00} conserved={(Conserved ? "true" : "false")} duplicates={Duplicates} credits_without_debit={CreditsWithoutDebit} ledgers={string.Join(',', Pairs.Select(p => p.From).Distinct())} pairs_hold={(Pairs.All(p => p.Holds) ? "true" : "false")}");
}
