using System.Text.Json.Serialization;
using MassTransit;
using Saga.Contracts;

namespace Saga.Components.Transfers;

/// <summary>A repair that waits for the destination ledger's void: <see cref="Kind"/> is Refund or Resolved.</summary>
public sealed record OperatorRepair(string Kind, string Operator, string Reason);

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

    /// <summary>Who asked for the transfer (the caller's sub): the source ledger debits only its owner's account.</summary>
    public string? Initiator { get; set; }

    /// <summary>The producer's debit is known to have committed (by its Commit or a check-back).</summary>
    public bool DebitCommitted { get; set; }

    /// <summary>The destination ledger confirmed the transfer's credit.</summary>
    public bool CreditApplied { get; set; }

    /// <summary>The destination ledger holds a void under the credit's key: the credit can never be applied.</summary>
    public bool CreditVoided { get; set; }

    /// <summary>The source ledger confirmed the refund.</summary>
    public bool RefundApplied { get; set; }

    /// <summary>A refund was sent to the source ledger and is not confirmed: a copy of it may still be applied.</summary>
    [JsonIgnore]
    public bool RefundInFlight => CreditVoided && Repair?.Kind == nameof(CreditPurpose.Refund) && !RefundApplied;

    // What a person may do with a transfer that needs attention: the state machine decides by these, and the
    // console offers only these. Methods, so the stored view does not carry them.
    public bool MayRetryCredit() => DebitCommitted && !CreditVoided && !RefundApplied;

    public bool MayRecheck() => !DebitCommitted;

    public bool MayRefund() => DebitCommitted && !CreditApplied && !RefundApplied;

    // Closing it while a refund is unconfirmed would leave a copy of the refund free to pay the source back after all.
    public bool MayResolve() => !RefundInFlight;

    /// <summary>The operator's refund or resolve that waits for the void, with who asked and why.</summary>
    public OperatorRepair? Repair { get; set; }

    public int CheckBacks { get; set; }

    /// <summary>Sends of the credit, the void or the refund in flight, the first included.</summary>
    public int CreditSends { get; set; }
    public int CheckBackLimit { get; set; }

    /// <summary>
    /// When the check-back scan next acts on this transfer: ask the producer (Prepared), or send an
    /// unconfirmed credit, void or refund again (Committed, Voiding, Refunding); null when it waits on nothing.
    /// </summary>
    public DateTimeOffset? ScanDueAt { get; set; }

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
                (Amount, Currency, CreatedAt, Initiator) = (h.Amount, h.Currency, h.At, h.Initiator);
                (ScanDueAt, CheckBackLimit) = (h.CheckBackDueAt, h.CheckBackLimit);
                Become(TransferStates.Prepared, h.At);
                break;
            case TransferCommitted c:
                DebitCommitted = true;
                ScanDueAt = null;
                Become(TransferStates.Committed, c.At);
                break;
            case TransferRolledBack r:
                ScanDueAt = null;
                Reason = r.Reason;
                Become(TransferStates.RolledBack, r.At);
                break;
            case CheckBackSent s:
                CheckBacks = s.Attempt;
                ScanDueAt = s.NextDueAt;
                UpdatedAt = s.At;
                break;
            case CheckBackAnswered a:
                UpdatedAt = a.At;
                break;
            case CreditRequested c:
                CreditSends++;
                ScanDueAt = c.ResendAt;
                UpdatedAt = c.At;
                if (c.Purpose == nameof(CreditPurpose.Refund))
                {
                    Become(TransferStates.Refunding, c.At);
                }
                break;
            case CreditConfirmed c:
                Reason = null;
                ScanDueAt = null;
                var refund = c.Purpose == nameof(CreditPurpose.Refund);
                (RefundApplied, CreditApplied) = (RefundApplied || refund, CreditApplied || !refund);
                Become(refund ? TransferStates.Refunded : TransferStates.Completed, c.At);
                break;
            case CreditFailed f:
                Reason = f.Reason;
                ScanDueAt = null;
                UpdatedAt = f.At;
                break;
            case TransferNeedsAttention n:
                ScanDueAt = null;
                Reason = n.Reason;
                Become(TransferStates.NeedsAttention, n.At);
                break;
            case CreditRetryRequested r:
                CreditSends = 0;
                Become(TransferStates.Committed, r.At);
                break;
            case RecheckRequested r:
                (ScanDueAt, CheckBackLimit) = (r.CheckBackDueAt, r.CheckBackLimit);
                Become(TransferStates.Prepared, r.At);
                break;
            case RefundRequested r:
                CreditSends = 0;
                Repair = new(nameof(CreditPurpose.Refund), r.Operator, r.Reason);
                Become(CreditVoided ? TransferStates.Refunding : TransferStates.Voiding, r.At);
                break;
            case ResolveRequested r:
                CreditSends = 0;
                Repair = new(nameof(TransferStates.Resolved), r.Operator, r.Reason);
                Become(TransferStates.Voiding, r.At);
                break;
            case VoidRequested v:
                CreditSends++;
                ScanDueAt = v.ResendAt;
                UpdatedAt = v.At;
                break;
            case CreditVoidConfirmed v:
                CreditVoided = true;
                CreditSends = 0;
                ScanDueAt = null;
                UpdatedAt = v.At;
                break;
            case CreditCopyRefused:
                break;
            case TransferResolved r:
                Reason = r.Reason;
                Become(TransferStates.Resolved, r.At);
                break;
            case MessageIgnored or MessageRefused:
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
        new(CorrelationId, CurrentState, From, To, Amount, Currency, CheckBacks, Reason, CreatedAt, UpdatedAt, Initiator);

    private void Become(string state, DateTimeOffset at)
    {
        CurrentState = state;
        UpdatedAt = at;
    }
}
