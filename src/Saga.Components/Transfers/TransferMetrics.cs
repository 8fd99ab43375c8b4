using System.Diagnostics.Metrics;
using Saga.Components.Hosting;
using Saga.Contracts;

namespace Saga.Components.Transfers;

/// <summary>Transfer figures, counted from the events as they are committed.</summary>
public sealed class TransferMetrics : IDisposable
{
    private readonly Meter _meter = new(Telemetry.SagaMeter);
    private readonly Counter<long> _started;
    private readonly Counter<long> _ended;
    private readonly Counter<long> _checkBacks;
    private readonly Counter<long> _creditRetries;
    private readonly Counter<long> _conflicts;
    private readonly Histogram<double> _duration;

    public TransferMetrics()
    {
        _started = _meter.CreateCounter<long>("saga.transfers.started", description: "Half messages stored");
        _ended = _meter.CreateCounter<long>("saga.transfers.ended", description: "Transfers that reached a final or attention state, by state");
        _checkBacks = _meter.CreateCounter<long>("saga.checkbacks.sent", description: "Check-backs sent to producers");
        _creditRetries = _meter.CreateCounter<long>("saga.credit.retries", description: "Credits requested again by an operator");
        _conflicts = _meter.CreateCounter<long>("saga.commit.conflicts", description: "Commits refused because the transfer had moved on; the message is retried on a fresh read");
        _duration = _meter.CreateHistogram<double>("saga.transfer.duration", unit: "s", description: "Half message to final state");
    }

    public void Committed(TransferState state, IReadOnlyList<object> events)
    {
        foreach (var e in events)
        {
            switch (e)
            {
                case HalfMessageStored:
                    _started.Add(1);
                    break;
                case CheckBackSent:
                    _checkBacks.Add(1);
                    break;
                case CreditRetryRequested:
                    _creditRetries.Add(1);
                    break;
            }
        }
        if (events is [.., CreditConfirmed or TransferRolledBack or TransferNeedsAttention or TransferResolved])
        {
            _ended.Add(1, new KeyValuePair<string, object?>("state", state.CurrentState));
            if (state.CurrentState is TransferStates.Completed or TransferStates.RolledBack)
            {
                _duration.Record((state.UpdatedAt - state.CreatedAt).TotalSeconds, new KeyValuePair<string, object?>("state", state.CurrentState));
            }
        }
    }

    public void Conflicted(Type messageType) => _conflicts.Add(1, new KeyValuePair<string, object?>("message", messageType.Name));

    public void Dispose() => _meter.Dispose();
}
