using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Contracts;

namespace Saga.Components.Transfers;

/// <summary>
/// The coordinator's side of RocketMQ's transactional message, for one transfer: it holds the half
/// message until the producer (the source ledger) commits or rolls back, checks back when no answer
/// comes, delivers the credit to the destination ledger only after the commit, and hands the
/// transfer to a person when retries and check-backs run out. Every transition is recorded as an
/// event on the transfer's stream (<see cref="TransferState.Record"/>).
/// </summary>
public sealed class TransferStateMachine : MassTransitStateMachine<TransferState>
{
    private readonly TransferSagaOptions _options;
    private readonly TimeProvider _clock;

    public TransferStateMachine(IOptions<TransferSagaOptions> options, TimeProvider clock)
    {
        _options = options.Value;
        _clock = clock;

        InstanceState(x => x.CurrentState);

        Event(() => HalfMessage, e => { e.CorrelateById(c => c.Message.TransferId); e.InsertOnInitial = true; });
        Event(() => Commit, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
        Event(() => Rollback, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
        Event(() => CheckBackDue, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => CheckBackAnswered, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
        Event(() => Credited, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
        Event(() => CreditFaulted, e => { e.CorrelateById(c => c.Message.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
        Event(() => StatusRequested, e =>
        {
            e.CorrelateById(c => c.Message.TransferId);
            e.ReadOnly = true;
            e.OnMissingInstance(m => m.ExecuteAsync(c => NotFound(c, c.Message.TransferId)));
        });
        Event(() => RetryCreditAsked, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.ExecuteAsync(c => NotFound(c, c.Message.TransferId))); });
        Event(() => RecheckAsked, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.ExecuteAsync(c => NotFound(c, c.Message.TransferId))); });
        Event(() => RefundAsked, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.ExecuteAsync(c => NotFound(c, c.Message.TransferId))); });
        Event(() => ResolveAsked, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.ExecuteAsync(c => NotFound(c, c.Message.TransferId))); });

        // 1. The half message: stored, not deliverable, acknowledged so the producer may debit.
        Initially(
            When(HalfMessage)
                .Then(c => c.Saga.Record(new HalfMessageStored(
                    c.Message.From.Ledger, c.Message.From.AccountId, c.Message.To.Ledger, c.Message.To.AccountId,
                    c.Message.Amount, c.Message.Currency, Now, Now + _options.CheckBackTimeout, _options.MaxCheckBacks)))
                .TransitionTo(Prepared)
                .Respond(c => new HalfMessageAcknowledged(c.Saga.CorrelationId, c.Saga.CurrentState)));

        // 2-3. The producer's answer, or a check-back's: commit delivers the credit, rollback ends it.
        During(Prepared,
            When(Commit)
                .Then(c => c.Saga.Record(new TransferCommitted("commit", Now)))
                .Then(RequestCredit)
                .TransitionTo(Committed)
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            When(Rollback)
                .Then(c => c.Saga.Record(new TransferRolledBack("rollback", c.Message.Reason, Now)))
                .TransitionTo(RolledBack),
            // 4. Check-backs, found due by the scan. Only the next attempt counts; a repeat is stale.
            When(CheckBackDue, c => c.Message.Attempt != c.Saga.CheckBacks + 1)
                .Then(c => Ignore(c, $"check-back {c.Message.Attempt} is stale: {c.Saga.CheckBacks} already sent")),
            When(CheckBackDue, c => c.Message.Attempt == c.Saga.CheckBacks + 1 && c.Message.Attempt > c.Saga.CheckBackLimit)
                .Then(c => c.Saga.Record(new TransferNeedsAttention(
                    $"no answer from ledger {c.Saga.FromLedger} after {c.Saga.CheckBacks} check-backs", Now)))
                .TransitionTo(NeedsAttention),
            When(CheckBackDue, c => c.Message.Attempt == c.Saga.CheckBacks + 1 && c.Message.Attempt <= c.Saga.CheckBackLimit)
                .Then(c => c.Saga.Record(new CheckBackSent(c.Message.Attempt, Now, Now + _options.CheckBackInterval(c.Message.Attempt))))
                .Send(c => SourceLedger(c.Saga), c => new CheckLocalTransaction(c.Saga.CorrelationId, c.Message.Attempt, c.Saga.From)),
            When(CheckBackAnswered, c => c.Message.Outcome == LocalTransactionOutcome.Committed)
                .Then(RecordAnswer)
                .Then(c => c.Saga.Record(new TransferCommitted("check-back", Now)))
                .Then(RequestCredit)
                .TransitionTo(Committed)
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            When(CheckBackAnswered, c => c.Message.Outcome == LocalTransactionOutcome.RolledBack)
                .Then(RecordAnswer)
                .Then(c => c.Saga.Record(new TransferRolledBack("check-back", c.Message.Reason ?? "rolled back", Now)))
                .TransitionTo(RolledBack),
            // Unknown: the scan asks again when the next check-back is due.
            When(CheckBackAnswered, c => c.Message.Outcome == LocalTransactionOutcome.Unknown)
                .Then(RecordAnswer),
            // The credit can only exist after a commit whose record is still being saved: it proves the commit.
            When(Credited, c => c.Message.Purpose == CreditPurpose.Transfer)
                .Then(c => c.Saga.Record(new TransferCommitted("credit", Now)))
                .Then(c => c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Transfer), Now, c.Message.Retries)))
                .TransitionTo(Completed));

        // The credit is in flight. A repeated Commit or a late Committed answer re-sends it: the credit is
        // idempotent, and a crash between saving this state and sending the credit must not strand it.
        During(Committed,
            When(Commit)
                .Then(c => Ignore(c, "already committed; credit sent again"))
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            When(CheckBackAnswered, c => c.Message.Outcome == LocalTransactionOutcome.Committed)
                .Then(c => Ignore(c, "already committed; credit sent again"))
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            When(Credited, c => c.Message.Purpose == CreditPurpose.Transfer)
                .Then(c => c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Transfer), Now, c.Message.Retries)))
                .TransitionTo(Completed),
            // No confirmation in time (a lost message, a ledger that was down): the scan has the credit sent again…
            When(CheckBackDue, c => Due(c.Saga) && c.Saga.CreditSends < _options.MaxCreditSends)
                .Then(RequestCredit)
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            // …up to a bound; then a person looks at the destination ledger.
            When(CheckBackDue, c => Due(c.Saga) && c.Saga.CreditSends >= _options.MaxCreditSends)
                .Then(c => c.Saga.Record(new TransferNeedsAttention(
                    $"credit to {c.Saga.To} not confirmed after {c.Saga.CreditSends} sends", Now)))
                .TransitionTo(NeedsAttention),
            // 5. The credit failed after all retries: a person decides.
            When(CreditFaulted, c => c.Message.Message.Purpose == CreditPurpose.Transfer)
                .Then(c => c.Saga.Record(new CreditFailed(nameof(CreditPurpose.Transfer), FaultReason(c.Message), Now)))
                .Then(c => c.Saga.Record(new TransferNeedsAttention($"credit to {c.Saga.To} failed: {FaultReason(c.Message)}", Now)))
                .TransitionTo(NeedsAttention));

        // A refund (a compensating credit to the source account) is in flight.
        During(Refunding,
            When(CheckBackDue, c => Due(c.Saga) && c.Saga.CreditSends < _options.MaxCreditSends)
                .Then(RequestRefund)
                .Send(c => SourceLedger(c.Saga), c => RefundFor(c.Saga)),
            When(CheckBackDue, c => Due(c.Saga) && c.Saga.CreditSends >= _options.MaxCreditSends)
                .Then(c => c.Saga.Record(new TransferNeedsAttention(
                    $"refund to {c.Saga.From} not confirmed after {c.Saga.CreditSends} sends", Now)))
                .TransitionTo(NeedsAttention),
            When(Credited, c => c.Message.Purpose == CreditPurpose.Refund)
                .Then(c => c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Refund), Now, c.Message.Retries)))
                .TransitionTo(Refunded),
            When(CreditFaulted, c => c.Message.Message.Purpose == CreditPurpose.Refund)
                .Then(c => c.Saga.Record(new CreditFailed(nameof(CreditPurpose.Refund), FaultReason(c.Message), Now)))
                .Then(c => c.Saga.Record(new TransferNeedsAttention($"refund to {c.Saga.From} failed: {FaultReason(c.Message)}", Now)))
                .TransitionTo(NeedsAttention));

        // 6. Operator repair.
        During(NeedsAttention,
            // A credit that succeeds after all (a late retry, a redelivered message) ends the transfer.
            When(Credited, c => c.Message.Purpose == CreditPurpose.Transfer && c.Saga.DebitCommitted)
                .Then(c => c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Transfer), Now, c.Message.Retries)))
                .TransitionTo(Completed),
            When(Credited, c => c.Message.Purpose == CreditPurpose.Refund && c.Saga.DebitCommitted)
                .Then(c => c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Refund), Now, c.Message.Retries)))
                .TransitionTo(Refunded),
            When(RetryCreditAsked, c => c.Saga.DebitCommitted)
                .Then(c => c.Saga.Record(new CreditRetryRequested(c.Message.Operator, c.Message.Reason, Now)))
                .Then(RequestCredit)
                .TransitionTo(Committed)
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga))
                .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
            When(RetryCreditAsked, c => !c.Saga.DebitCommitted)
                .Respond(c => new RepairRejected(c.Saga.CorrelationId, c.Saga.CurrentState,
                    "the source ledger's debit is not known to have committed: recheck the transfer instead")),
            When(RecheckAsked, c => !c.Saga.DebitCommitted)
                .Then(c => c.Saga.Record(new RecheckRequested(c.Message.Operator, c.Message.Reason, Now, Now,
                    c.Saga.CheckBacks + _options.MaxCheckBacks)))
                .TransitionTo(Prepared)
                .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
            When(RecheckAsked, c => c.Saga.DebitCommitted)
                .Respond(c => new RepairRejected(c.Saga.CorrelationId, c.Saga.CurrentState,
                    "the source ledger's debit is known to have committed: retry the credit or refund instead")),
            When(RefundAsked, c => c.Saga.DebitCommitted)
                .Then(c => c.Saga.Record(new RefundRequested(c.Message.Operator, c.Message.Reason, Now)))
                .Then(RequestRefund)
                .TransitionTo(Refunding)
                .Send(c => SourceLedger(c.Saga), c => RefundFor(c.Saga))
                .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
            When(RefundAsked, c => !c.Saga.DebitCommitted)
                .Respond(c => new RepairRejected(c.Saga.CorrelationId, c.Saga.CurrentState,
                    "nothing was debited that could be refunded: recheck or resolve the transfer instead")),
            When(ResolveAsked)
                .Then(c => c.Saga.Record(new TransferResolved(c.Message.Operator, c.Message.Reason, Now)))
                .TransitionTo(Resolved)
                .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)));

        // Repairs apply only to a transfer that needs attention.
        During([Prepared, Committed, Completed, RolledBack, Refunding, Refunded, Resolved],
            When(RetryCreditAsked).Respond(c => NotRepairable(c.Saga)),
            When(RecheckAsked).Respond(c => NotRepairable(c.Saga)),
            When(RefundAsked).Respond(c => NotRepairable(c.Saga)),
            When(ResolveAsked).Respond(c => NotRepairable(c.Saga)));

        // A commit arriving after the transfer was rolled back means the producer and the coordinator
        // disagree about money that may have moved: never decided silently.
        During(RolledBack,
            When(Commit)
                .Then(c => c.Saga.Record(new TransferNeedsAttention("Commit arrived after the transfer was rolled back", Now)))
                .TransitionTo(NeedsAttention));

        // 7. Everything else that arrives twice, late or out of order is recorded and has no effect.
        DuringAny(
            When(HalfMessage, c => Holds(c.Saga, c.Message))
                .Respond(c => new HalfMessageAcknowledged(c.Saga.CorrelationId, c.Saga.CurrentState)),
            When(HalfMessage, c => !Holds(c.Saga, c.Message))
                .Respond(c => new HalfMessageAcknowledged(c.Saga.CorrelationId, c.Saga.CurrentState,
                    $"this id holds a transfer of {c.Saga.Amount} {c.Saga.Currency} from {c.Saga.From} to {c.Saga.To}")),
            When(StatusRequested)
                .Respond(c => c.Saga.ToStatus()));
        IgnoreElsewhere(Commit, Prepared, Committed, RolledBack);
        IgnoreElsewhere(Rollback, Prepared);
        IgnoreElsewhere(CheckBackDue, Prepared, Committed, Refunding);
        During(Committed, Refunding, When(CheckBackDue, c => !Due(c.Saga)).Then(c => Ignore(c, "the credit is not overdue")));
        IgnoreElsewhere(CheckBackAnswered, Prepared, Committed);
        IgnoreElsewhere(Credited, Prepared, Committed, Refunding, NeedsAttention);
        IgnoreElsewhere(CreditFaulted, Committed, Refunding);
        During(Committed, When(CheckBackAnswered, c => c.Message.Outcome != LocalTransactionOutcome.Committed).Then(c => Ignore(c, "already committed")));
        During(Committed, When(Credited, c => c.Message.Purpose != CreditPurpose.Transfer).Then(c => Ignore(c, "not a transfer credit")));
        During(Committed, When(CreditFaulted, c => c.Message.Message.Purpose != CreditPurpose.Transfer).Then(c => Ignore(c, "not a transfer credit")));
        During(Refunding, When(Credited, c => c.Message.Purpose != CreditPurpose.Refund).Then(c => Ignore(c, "not a refund credit")));
        During(Refunding, When(CreditFaulted, c => c.Message.Message.Purpose != CreditPurpose.Refund).Then(c => Ignore(c, "not a refund credit")));
        During(NeedsAttention, When(Credited, c => !c.Saga.DebitCommitted).Then(c => Ignore(c, "the debit is not known to have committed")));
    }

    public State Prepared { get; private set; } = null!;
    public State Committed { get; private set; } = null!;
    public State Completed { get; private set; } = null!;
    public State RolledBack { get; private set; } = null!;
    public State NeedsAttention { get; private set; } = null!;
    public State Refunding { get; private set; } = null!;
    public State Refunded { get; private set; } = null!;
    public State Resolved { get; private set; } = null!;

    public Event<StoreHalfMessage> HalfMessage { get; private set; } = null!;
    public Event<CommitTransfer> Commit { get; private set; } = null!;
    public Event<RollbackTransfer> Rollback { get; private set; } = null!;
    public Event<CheckBackDue> CheckBackDue { get; private set; } = null!;
    public Event<LocalTransactionChecked> CheckBackAnswered { get; private set; } = null!;
    public Event<AccountCredited> Credited { get; private set; } = null!;
    public Event<Fault<CreditAccount>> CreditFaulted { get; private set; } = null!;
    public Event<GetTransferStatus> StatusRequested { get; private set; } = null!;
    public Event<RetryCredit> RetryCreditAsked { get; private set; } = null!;
    public Event<RecheckTransfer> RecheckAsked { get; private set; } = null!;
    public Event<RefundTransfer> RefundAsked { get; private set; } = null!;
    public Event<ResolveTransfer> ResolveAsked { get; private set; } = null!;

    private DateTimeOffset Now => _clock.GetUtcNow();

    private Uri SourceLedger(TransferState s) => _options.LedgerAddress(s.FromLedger);
    private Uri DestinationLedger(TransferState s) => _options.LedgerAddress(s.ToLedger);

    private static bool Holds(TransferState s, StoreHalfMessage m) =>
        s.From == m.From && s.To == m.To && s.Amount == m.Amount && s.Currency == m.Currency;

    private static CreditAccount CreditFor(TransferState s) => new(s.CorrelationId, s.To, s.Amount, s.Currency);

    private void RequestCredit<T>(BehaviorContext<TransferState, T> c) where T : class =>
        c.Saga.Record(new CreditRequested(nameof(CreditPurpose.Transfer), c.Saga.ToLedger, c.Saga.ToAccount, c.Saga.Amount, Now, ResendAt(c.Saga)));

    private void RequestRefund<T>(BehaviorContext<TransferState, T> c) where T : class =>
        c.Saga.Record(new CreditRequested(nameof(CreditPurpose.Refund), c.Saga.FromLedger, c.Saga.FromAccount, c.Saga.Amount, Now, ResendAt(c.Saga)));

    private DateTimeOffset ResendAt(TransferState s) => Now + _options.CreditResendInterval(s.CreditSends + 1);

    private bool Due(TransferState s) => s.NextCheckBackAt is { } due && due <= Now;

    private static CreditAccount RefundFor(TransferState s) => new(s.CorrelationId, s.From, s.Amount, s.Currency, CreditPurpose.Refund);

    private void RecordAnswer(BehaviorContext<TransferState, LocalTransactionChecked> c) =>
        c.Saga.Record(new CheckBackAnswered(c.Message.Attempt, c.Message.Outcome.ToString(), c.Message.Reason, Now));

    private void Ignore<T>(BehaviorContext<TransferState, T> c, string detail) where T : class =>
        c.Saga.Record(new MessageIgnored(typeof(T).Name, detail, Now));

    private static Task NotFound(ConsumeContext context, Guid transferId) => context.RespondAsync(new TransferNotFound(transferId));

    private static RepairRejected NotRepairable(TransferState s) =>
        new(s.CorrelationId, s.CurrentState, $"the transfer is {s.CurrentState}: only a transfer that needs attention can be repaired");

    private static string FaultReason(Fault<CreditAccount> fault) =>
        fault.Exceptions is { Length: > 0 } e ? $"{e[0].ExceptionType}: {e[0].Message}" : "unknown fault";

    /// <summary>In every state but <paramref name="handled"/>, <paramref name="e"/> is recorded and ignored.</summary>
    private void IgnoreElsewhere<T>(Event<T> e, params State[] handled) where T : class
    {
        var others = new[] { Prepared, Committed, Completed, RolledBack, NeedsAttention, Refunding, Refunded, Resolved }
            .Except(handled).ToArray();
        During(others, When(e).Then(c => Ignore(c, $"no effect while {c.Saga.CurrentState}")));
    }
}
