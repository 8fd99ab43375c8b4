using System.Diagnostics.Metrics;
using Saga.Components.Hosting;

namespace Saga.Components.Scheduling;

/// <summary>
/// saga.scheduler.failures{operation}: attempts of the durable scheduler that failed, one count per
/// attempt. <c>store</c>: a ScheduleMessage not stored (retried, at last moved to the error queue);
/// <c>send</c>: a due message not sent (kept, and fired again later).
/// </summary>
public sealed class SchedulerMetrics : IDisposable
{
    private static readonly KeyValuePair<string, object?> Store = new("operation", "store");
    private static readonly KeyValuePair<string, object?> Send = new("operation", "send");

    private readonly Counter<long> _failures;

    public SchedulerMetrics()
    {
        _failures = Meter.CreateCounter<long>("saga.scheduler.failures", description: "Scheduler attempts to store or send a scheduled message that failed");
    }

    internal Meter Meter { get; } = new(Telemetry.SagaMeter);

    public void StoreFailed() => _failures.Add(1, Store);

    public void SendFailed() => _failures.Add(1, Send);

    public void Dispose() => Meter.Dispose();
}
