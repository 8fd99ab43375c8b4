using System.Text.Json.Serialization;
using MassTransit;
using Saga.Contracts;

namespace Saga.Components.Transfers;

/// <summary>
/// One transfer as the coordinator holds it: the saga instance, rebuilt from the transfer's event
/// stream, and the queryable view stored beside the stream in the same commit.
/// </summary>
public sealed class TransferState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "Initial";

    /// <summary>The stream version this state was built from: the expected version of the next append.</summary>
    public long Version { get; set; }

    public string FromLedger { get; set; } = "";
    public string FromAccount { get; set; } = "";
    public string ToLedger { get; set; } = "";
    public string ToAccount { get; set; } = "";
    public decimal Amount { get; set; }
    public string Currency { get; set; } = "";

    /// <summary>The producer's debit is known to have committed (by its Commit or a check-back).</summary>
    public bool DebitCommitted { get; set; }

    public int CheckBacks { get; set; }

    /// <summary>Sends of the credit (or refund) in flight, the first included.</summary>
    public int CreditSends { get; set; }
    public int CheckBackLimit { get; set; }

    /// <summary>
    /// When the scan should next act: ask the producer (Prepared), or send an unconfirmed credit again
    /// (Committed, Refunding); null when the transfer waits on nothing.
    /// </summary>
    public DateTimeOffset? NextCheckBackAt { get; set; }

    public string? Reason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Events recorded while handling the current message, appended by the repository.</summary>
    [JsonIgnore]
    public List<object> PendingEvents { get; private set; } = [];

    public AccountRef From => new(FromLedger, FromAccount);
    public AccountRef To => new(ToLedger, ToAccount);

    /// <summary>Applies <paramref name="e"/> and keeps it for the repository to append.</summary>
    public void Record(object e)
    {
        Apply(e);
        PendingEvents.Add(e);
    }

    /// <summary>The one place a stored event changes a transfer, used live and when rebuilding.</summary>
    public void Apply(object e)
    {
        switch (e)
        {
            case HalfMessageStored h:
                (FromLedger, FromAccount, ToLedger, ToAccount) = (h.FromLedger, h.FromAccount, h.ToLedger, h.ToAccount);
                (Amount, Currency, CreatedAt) = (h.Amount, h.Currency, h.At);
                (NextCheckBackAt, CheckBackLimit) = (h.CheckBackDueAt, h.CheckBackLimit);
                Become(TransferStates.Prepared, h.At);
                break;
            case TransferCommitted c:
                DebitCommitted = true;
                NextCheckBackAt = null;
                Become(TransferStates.Committed, c.At);
                break;
            case TransferRolledBack r:
                NextCheckBackAt = null;
                Reason = r.Reason;
                Become(TransferStates.RolledBack, r.At);
                break;
            case CheckBackSent s:
                CheckBacks = s.Attempt;
                NextCheckBackAt = s.NextDueAt;
                UpdatedAt = s.At;
                break;
            case CheckBackAnswered a:
                UpdatedAt = a.At;
                break;
            case CreditRequested c:
                CreditSends++;
                NextCheckBackAt = c.ResendAt;
                UpdatedAt = c.At;
                break;
            case CreditConfirmed c:
                Reason = null;
                NextCheckBackAt = null;
                Become(c.Purpose == nameof(CreditPurpose.Refund) ? TransferStates.Refunded : TransferStates.Completed, c.At);
                break;
            case CreditFailed f:
                Reason = f.Reason;
                NextCheckBackAt = null;
                UpdatedAt = f.At;
                break;
            case TransferNeedsAttention n:
                NextCheckBackAt = null;
                Reason = n.Reason;
                Become(TransferStates.NeedsAttention, n.At);
                break;
            case CreditRetryRequested r:
                CreditSends = 0;
                Become(TransferStates.Committed, r.At);
                break;
            case RecheckRequested r:
                (NextCheckBackAt, CheckBackLimit) = (r.CheckBackDueAt, r.CheckBackLimit);
                Become(TransferStates.Prepared, r.At);
                break;
            case RefundRequested r:
                CreditSends = 0;
                Become(TransferStates.Refunding, r.At);
                break;
            case TransferResolved r:
                Reason = r.Reason;
                Become(TransferStates.Resolved, r.At);
                break;
            case MessageIgnored:
                break;
            default:
                throw new ArgumentException($"{e.GetType().Name} is not a transfer event", nameof(e));
        }
    }

    /// <summary>The same transfer, with nothing pending.</summary>
    public TransferState Copy()
    {
        var copy = (TransferState)MemberwiseClone();
        copy.PendingEvents = [];
        return copy;
    }

    public static TransferState Rebuild(Guid transferId, IEnumerable<object> events)
    {
        var state = new TransferState { CorrelationId = transferId };
        foreach (var e in events)
        {
            state.Apply(e);
            state.Version++;
        }
        return state;
    }

    public TransferStatus ToStatus() =>
        new(CorrelationId, CurrentState, From, To, Amount, Currency, CheckBacks, Reason, CreatedAt, UpdatedAt);

    private void Become(string state, DateTimeOffset at)
    {
        CurrentState = state;
        UpdatedAt = at;
    }
}
