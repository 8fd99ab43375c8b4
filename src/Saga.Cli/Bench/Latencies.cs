using HdrHistogram;

namespace Saga.Cli;

/// <summary>Latency submit→Completed of a run's transfers, recorded in microseconds up to 10 minutes, read in milliseconds.</summary>
public sealed class Latencies
{
    private readonly LongHistogram _histogram = new(TimeStamp.Minutes(10), 3);

    /// <param name="submittedTicks">When the transfer was submitted (due, at a fixed rate), in UTC ticks.</param>
    /// <param name="completedAt">When its Completed state was stored.</param>
    public void Record(long submittedTicks, DateTimeOffset completedAt) =>
        _histogram.RecordValue(Math.Max(0, (completedAt.UtcTicks - submittedTicks) / TimeSpan.TicksPerMicrosecond));

    public double Ms(double percentile) => _histogram.TotalCount > 0 ? _histogram.GetValueAtPercentile(percentile) / 1000.0 : 0;

    public double MaxMs => _histogram.TotalCount > 0 ? _histogram.GetMaxValue() / 1000.0 : 0;
}
