using System.Diagnostics.Metrics;

namespace Saga.Components.Hosting;

/// <summary>
/// Where a transfer waits on its way through a host: how long each message took from its sender to this
/// host's consumer (queue and transport, by the sender's clock and this host's), and how long each group
/// commit kept its callers (queued behind the transaction in flight, then its own), with the items each
/// transaction carried. Histograms of the Saga meter, on /metrics; the bench reads them before and after
/// a run to tell where its latency went.
/// </summary>
public static class PathMetrics
{
    private static readonly Meter Meter = new(Telemetry.SagaMeter);

    private static readonly Histogram<double> Delivery = Meter.CreateHistogram("saga.message.delivery", "ms",
        "From a message's sending to its first delivery to a consumer here", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 20, 50, 100, 200, 500, 1000, 5000, 30000] });

    private static readonly Histogram<double> CommitWait = Meter.CreateHistogram("saga.commit.wait", "ms",
        "From asking a group commit to write an item to its transaction's end", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 20, 50, 100, 200, 500, 1000, 5000] });

    private static readonly Histogram<int> CommitSize = Meter.CreateHistogram("saga.commit.size", "{item}",
        "Items written by one group-commit transaction", tags: null,
        new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    /// <summary>A message's first delivery here, <paramref name="took"/> after its sender sent it.</summary>
    public static void Delivered(string message, TimeSpan took) =>
        Delivery.Record(Math.Max(0, took.TotalMilliseconds), new KeyValuePair<string, object?>("message", message));

    /// <summary>An item of <paramref name="writer"/>'s group commit, written or failed after <paramref name="waited"/>.</summary>
    public static void Waited(string writer, TimeSpan waited) =>
        CommitWait.Record(waited.TotalMilliseconds, new KeyValuePair<string, object?>("writer", writer));

    /// <summary>One committed transaction of <paramref name="writer"/>'s group commit, holding <paramref name="items"/>.</summary>
    public static void Wrote(string writer, int items) =>
        CommitSize.Record(items, new KeyValuePair<string, object?>("writer", writer));
}
