namespace Saga.Cli;

/// <summary>
/// What each transfer of a run cost, from the <see cref="Counters"/> read before and after it: broker
/// messages, PostgreSQL transactions and WAL flushes per transfer, CPU seconds per 1,000 transfers.
/// </summary>
public sealed record CostPerTransfer(double Messages, double Commits, double WalFlushes, Dictionary<string, double> CpuSecondsPer1000)
{
    public static CostPerTransfer Between(Counters before, Counters after, int transfers)
    {
        var n = Math.Max(1, transfers);
        return new CostPerTransfer(
            after.Published >= before.Published ? (after.Published - before.Published) / (double)n : -1, // -1: the broker restarted, its count with it
            (after.Commits - before.Commits - (after.OwnQueries - before.OwnQueries)) / (double)n,
            (after.WalFlushes - before.WalFlushes) / (double)n,
            after.Cpu.ToDictionary(c => c.Key, c => (c.Value - before.Cpu.GetValueOrDefault(c.Key)) * 1000 / n));
    }
}
