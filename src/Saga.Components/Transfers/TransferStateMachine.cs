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
        Event(() => Voided, e => { e.CorrelateById(c => c.Message.TransferId); e.OnMissingInstance(m => m.Fault()); });
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

        // 1. The half message: stored, not deliverable; then, as its acknowledgement, the producer is asked to debit.
        Initially(
            When(HalfMessage)
                .Then(c => c.Saga.Record(new HalfMessageStored(
                    c.Message.From.Ledger, c.Message.From.AccountId, c.Message.To.Ledger, c.Message.To.AccountId,
                    c.Message.Amount, c.Message.Currency, Now, Now + _options.CheckBackTimeout, _options.MaxCheckBacks, c.Message.Initiator)))
                .TransitionTo(Prepared)
                .Send(c => SourceLedger(c.Saga), c => LocalTransactionFor(c.Saga)));

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
            When(CheckBackDue)
                .IfElse(c => c.Message.Attempt != c.Saga.CheckBacks + 1,
                    stale => stale.Then(c => Ignore(c, $"check-back {c.Message.Attempt} is stale: {c.Saga.CheckBacks} already sent")),
                    next => next.IfElse(c => c.Message.Attempt > c.Saga.CheckBackLimit,
                        exhausted => exhausted
                            .Then(c => c.Saga.Record(new TransferNeedsAttention(
                                $"no answer from ledger {c.Saga.FromLedger} after {c.Saga.CheckBacks} check-backs", Now)))
                            .TransitionTo(NeedsAttention),
                        ask => ask
                            .Then(c => c.Saga.Record(new CheckBackSent(c.Message.Attempt, Now, Now + _options.CheckBackInterval(c.Message.Attempt))))
                            .Send(c => SourceLedger(c.Saga), c => new CheckLocalTransaction(c.Saga.CorrelationId, c.Message.Attempt, c.Saga.From)))),
            When(CheckBackAnswered)
                .Then(RecordAnswer)
                .If(c => c.Message.Outcome == LocalTransactionOutcome.Committed, committed => committed
                    .Then(c => c.Saga.Record(new TransferCommitted("check-back", Now)))
                    .Then(RequestCredit)
                    .TransitionTo(Committed)
                    .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)))
                .If(c => c.Message.Outcome == LocalTransactionOutcome.RolledBack, rolledBack => rolledBack
                    .Then(c => c.Saga.Record(new TransferRolledBack("check-back", c.Message.Reason ?? "rolled back", Now)))
                    .TransitionTo(RolledBack)),
            // Unknown (above): the scan asks again when the next check-back is due.
            // The credit can only exist after a commit whose record is still being saved: it proves the commit.
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit
                        .Then(c => c.Saga.Record(new TransferCommitted("credit", Now)))
                        .Then(ConfirmCredit)
                        .TransitionTo(Completed),
                    other => other.Then(c => Ignore(c, "no refund was sent"))));

        // The credit is in flight. A repeated Commit or a late Committed answer re-sends it: the credit is
        // idempotent, and a crash between saving this state and sending the credit must not strand it.
        During(Committed,
            When(Commit)
                .Then(c => Ignore(c, "already committed; credit sent again"))
                .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
            When(CheckBackAnswered)
                .IfElse(c => c.Message.Outcome == LocalTransactionOutcome.Committed,
                    committed => committed
                        .Then(c => Ignore(c, "already committed; credit sent again"))
                        .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
                    other => other.Then(c => Ignore(c, $"already committed; the answer {c.Message.Outcome} is stale"))),
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit.Then(ConfirmCredit).TransitionTo(Completed),
                    other => other.Then(c => Ignore(c, "no refund was sent"))),
            // No confirmation in time (a lost message, a ledger that was down): the scan has the credit sent again…
            // …up to a bound; then a person looks at the destination ledger.
            ResendOrHandOver(When(CheckBackDue), "credit",
                resend => resend.Then(RequestCredit).Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga)),
                s => $"credit to {s.To} not confirmed after {s.CreditSends} sends"),
            // 5. The credit failed after all retries: a person decides.
            When(CreditFaulted)
                .IfElse(c => c.Message.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit
                        .Then(c => c.Saga.Record(new CreditFailed(nameof(CreditPurpose.Transfer), FaultReason(c.Message), Now)))
                        .Then(c => c.Saga.Record(new TransferNeedsAttention($"credit to {c.Saga.To} failed: {FaultReason(c.Message)}", Now)))
                        .TransitionTo(NeedsAttention),
                    other => other.Then(c => Ignore(c, "no refund was sent"))),
            // A void from an earlier repair stands at the destination: this credit can never be applied.
            When(Voided)
                .Then(RecordVoid)
                .Then(c => c.Saga.Record(new TransferNeedsAttention(
                    $"the credit to {c.Saga.To} was voided there before it was applied: refund or resolve", Now)))
                .TransitionTo(NeedsAttention));

        // 6. A refund or resolve waits for the destination ledger to void the credit: the fence that keeps a
        // late copy of the credit from paying twice. No answer means no refund: the void is asked again.
        During(Voiding,
            When(Voided)
                .Then(RecordVoid)
                .IfElse(c => c.Saga.Repair?.Kind == nameof(CreditPurpose.Refund),
                    refund => refund
                        .Then(RequestRefund)
                        .TransitionTo(Refunding)
                        .Send(c => SourceLedger(c.Saga), c => RefundFor(c.Saga)),
                    resolve => resolve
                        .Then(c => c.Saga.Record(new TransferResolved(c.Saga.Repair!.Operator, c.Saga.Repair.Reason, Now)))
                        .TransitionTo(Resolved)),
            // The credit won the race with the void: the transfer is complete and nothing is refunded.
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit.Then(ConfirmCredit).TransitionTo(Completed),
                    other => other.Then(c => Ignore(c, "no refund was sent"))),
            When(CreditFaulted)
                .IfElse(c => c.Message.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit.Then(c => c.Saga.Record(new CreditFailed(nameof(CreditPurpose.Transfer), FaultReason(c.Message), Now))),
                    other => other.Then(c => Ignore(c, "no refund was sent"))),
            ResendOrHandOver(When(CheckBackDue), "void",
                resend => resend.Then(RequestVoid).Send(c => DestinationLedger(c.Saga), c => VoidFor(c.Saga)),
                s => $"ledger {s.ToLedger} did not answer the void of the credit to {s.To} after {s.CreditSends} sends: " +
                     "nothing was refunded; ask again when it answers"));

        // The refund (a compensating credit to the source account) is in flight; the credit is voided.
        During(Refunding,
            ResendOrHandOver(When(CheckBackDue), "refund",
                resend => resend.Then(RequestRefund).Send(c => SourceLedger(c.Saga), c => RefundFor(c.Saga)),
                s => $"refund to {s.From} not confirmed after {s.CreditSends} sends"),
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Refund,
                    refund => refund.Then(ConfirmRefund).TransitionTo(Refunded),
                    credit => credit.Then(LateCredit).TransitionTo(NeedsAttention)),
            When(CreditFaulted)
                .IfElse(c => c.Message.Message.Purpose == CreditPurpose.Refund,
                    refund => refund
                        .Then(c => c.Saga.Record(new CreditFailed(nameof(CreditPurpose.Refund), FaultReason(c.Message), Now)))
                        .Then(c => c.Saga.Record(new TransferNeedsAttention($"refund to {c.Saga.From} failed: {FaultReason(c.Message)}", Now)))
                        .TransitionTo(NeedsAttention),
                    credit => credit.Then(c => Ignore(c, "the credit was voided"))));

        // 7. Operator repair.
        During(NeedsAttention,
            // A credit that succeeds after all (a late retry, a redelivered message) ends the transfer.
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit.IfElse(c => c.Saga.CreditApplied,
                        repeat => repeat.Then(c => Ignore(c, "the credit was confirmed before")),
                        first => first.IfElse(c => c.Saga.RefundApplied,
                            late => late.Then(LateCredit).TransitionTo(NeedsAttention),
                            completes => completes
                                .If(c => !c.Saga.DebitCommitted, proof => proof.Then(c => c.Saga.Record(new TransferCommitted("credit", Now))))
                                .Then(ConfirmCredit)
                                .TransitionTo(Completed))),
                    refund => refund.IfElse(c => c.Saga.DebitCommitted && !c.Saga.RefundApplied,
                        completes => completes.Then(ConfirmRefund).TransitionTo(Refunded),
                        other => other.Then(c => Ignore(c, "no refund is outstanding")))),
            When(CreditFaulted)
                .Then(c => c.Saga.Record(new CreditFailed(c.Message.Message.Purpose.ToString(), FaultReason(c.Message), Now))),
            When(Voided)
                .IfElse(c => c.Saga.CreditVoided,
                    repeat => repeat.Then(RecordRefusedCopy),
                    first => first.Then(RecordVoid)),
            // The producer's answer after the transfer was handed to a person: the debit is now known, so a refund can be made.
            When(CheckBackAnswered)
                .Then(RecordAnswer)
                .If(c => c.Message.Outcome == LocalTransactionOutcome.Committed && !c.Saga.DebitCommitted, late => late
                    .Then(DebitCommittedLate)
                    .TransitionTo(NeedsAttention))
                .If(c => c.Message.Outcome == LocalTransactionOutcome.RolledBack && !c.Saga.DebitCommitted, rolledBack => rolledBack
                    .Then(c => c.Saga.Record(new TransferRolledBack("check-back", c.Message.Reason ?? "rolled back", Now)))
                    .TransitionTo(RolledBack)),
            When(Rollback)
                .IfElse(c => c.Saga.DebitCommitted,
                    contradicts => contradicts.Then(c => Ignore(c, "the debit is known to have committed")),
                    rolledBack => rolledBack
                        .Then(c => c.Saga.Record(new TransferRolledBack("rollback", c.Message.Reason, Now)))
                        .TransitionTo(RolledBack)),
            When(RetryCreditAsked)
                .IfElse(c => c.Saga.MayRetryCredit(),
                    retry => retry
                        .Then(c => c.Saga.Record(new CreditRetryRequested(c.Message.Operator, c.Message.Reason, Now)))
                        .Then(RequestCredit)
                        .TransitionTo(Committed)
                        .Send(c => DestinationLedger(c.Saga), c => CreditFor(c.Saga))
                        .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
                    refuse => refuse.Respond(c => Refused(c.Saga,
                        !c.Saga.DebitCommitted ? "the source ledger's debit is not known to have committed: recheck the transfer instead"
                        : c.Saga.RefundApplied ? "the amount was refunded: the credit can no longer be sent"
                        : $"the credit was voided at ledger {c.Saga.ToLedger}: refund or resolve the transfer instead"))),
            When(RecheckAsked)
                .IfElse(c => c.Saga.MayRecheck(),
                    recheck => recheck
                        .Then(c => c.Saga.Record(new RecheckRequested(c.Message.Operator, c.Message.Reason, Now, Now,
                            c.Saga.CheckBacks + _options.MaxCheckBacks)))
                        .TransitionTo(Prepared)
                        .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
                    refuse => refuse.Respond(c => Refused(c.Saga,
                        "the source ledger's debit is known to have committed: retry the credit or refund instead"))),
            When(RefundAsked)
                .IfElse(c => c.Saga.MayRefund(),
                    refund => refund
                        .Then(c => c.Saga.Record(new RefundRequested(c.Message.Operator, c.Message.Reason, Now)))
                        .IfElse(c => c.Saga.CreditVoided,
                            voided => voided.Then(RequestRefund).TransitionTo(Refunding).Send(c => SourceLedger(c.Saga), c => RefundFor(c.Saga)),
                            fence => fence.Then(RequestVoid).TransitionTo(Voiding).Send(c => DestinationLedger(c.Saga), c => VoidFor(c.Saga)))
                        .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
                    refuse => refuse.Respond(c => Refused(c.Saga,
                        !c.Saga.DebitCommitted ? "nothing was debited that could be refunded: recheck or resolve the transfer instead"
                        : c.Saga.RefundApplied ? "the amount was refunded already"
                        : $"the credit was applied at ledger {c.Saga.ToLedger}: a refund would pay twice; resolve the transfer instead"))),
            When(ResolveAsked)
                .IfElse(c => c.Saga.DebitCommitted && !c.Saga.CreditVoided && !c.Saga.CreditApplied,
                    fence => fence
                        .Then(c => c.Saga.Record(new ResolveRequested(c.Message.Operator, c.Message.Reason, Now)))
                        .Then(RequestVoid)
                        .TransitionTo(Voiding)
                        .Send(c => DestinationLedger(c.Saga), c => VoidFor(c.Saga))
                        .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)),
                    other => other.IfElse(c => !c.Saga.MayResolve(),
                        refuse => refuse.Respond(c => Refused(c.Saga,
                            $"a refund to {c.Saga.From} was sent and is not confirmed: refund again (it is applied once) instead")),
                        resolve => resolve
                            .Then(c => c.Saga.Record(new TransferResolved(c.Message.Operator, c.Message.Reason, Now)))
                            .TransitionTo(Resolved)
                            .Respond(c => new RepairAccepted(c.Saga.CorrelationId, c.Saga.CurrentState)))));

        // Repairs apply only to a transfer that needs attention.
        During(AllBut(NeedsAttention),
            When(RetryCreditAsked).Respond(c => NotRepairable(c.Saga)),
            When(RecheckAsked).Respond(c => NotRepairable(c.Saga)),
            When(RefundAsked).Respond(c => NotRepairable(c.Saga)),
            When(ResolveAsked).Respond(c => NotRepairable(c.Saga)));

        // A commit arriving after the transfer was rolled back means the producer and the coordinator
        // disagree about money that may have moved: never decided silently.
        During(RolledBack,
            When(Commit)
                .Then(c => c.Saga.Record(new TransferNeedsAttention("Commit arrived after the transfer was rolled back", Now)))
                .TransitionTo(NeedsAttention),
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer,
                    credit => credit.Then(LateCredit).TransitionTo(NeedsAttention),
                    other => other.Then(c => Ignore(c, "no refund was sent"))));

        // After a refund or a resolve, a credit can only have been applied if the fence was bypassed: money
        // was paid twice, and a person must recover it. A refused copy is recorded.
        During(Refunded, Resolved,
            When(Credited)
                .IfElse(c => c.Message.Purpose == CreditPurpose.Transfer ? !c.Saga.CreditApplied : !c.Saga.RefundApplied,
                    late => late.Then(LateCredit).TransitionTo(NeedsAttention),
                    repeat => repeat.Then(c => Ignore(c, "confirmed before"))),
            When(Voided).Then(RecordRefusedCopy));
        During(Refunding, When(Voided).Then(RecordRefusedCopy));

        // The producer's commit after the transfer was handed to a person, or resolved before its debit was
        // known: recorded, and the transfer (re)opened for a person, who may now refund.
        During(NeedsAttention, Resolved,
            When(Commit)
                .IfElse(c => c.Saga.DebitCommitted,
                    repeat => repeat.Then(c => Ignore(c, "the debit is known to have committed")),
                    first => first.Then(DebitCommittedLate).TransitionTo(NeedsAttention)));
        During(Resolved,
            When(CheckBackAnswered)
                .Then(RecordAnswer)
                .If(c => c.Message.Outcome == LocalTransactionOutcome.Committed && !c.Saga.DebitCommitted, late => late
                    .Then(DebitCommittedLate)
                    .TransitionTo(NeedsAttention)));

        // 8. Everything else that arrives twice, late or out of order is recorded and has no effect.
        // A repeated half message (a client sending the same request again) asks the producer again while the
        // transfer is Prepared: its local transaction runs once, and a lost request must not strand the transfer.
        During(Prepared,
            When(HalfMessage, c => Holds(c.Saga, c.Message))
                .Then(c => Ignore(c, "the half message is held already; the local transaction was asked for again"))
                .Send(c => SourceLedger(c.Saga), c => LocalTransactionFor(c.Saga)));
        During(AllBut(Prepared),
            When(HalfMessage, c => Holds(c.Saga, c.Message))
                .Then(c => Ignore(c, $"the half message is held already and the transfer is {c.Saga.CurrentState}")));
        DuringAny(
            When(HalfMessage, c => !Holds(c.Saga, c.Message))
                .Then(c => Ignore(c, $"refused: this id holds a transfer of {c.Saga.Amount} {c.Saga.Currency} from {c.Saga.From} to {c.Saga.To}, " +
                    $"not of {c.Message.Amount} {c.Message.Currency} from {c.Message.From} to {c.Message.To}" +
                    (c.Saga.Initiator == c.Message.Initiator ? "" : $", asked for by '{c.Message.Initiator}', not '{c.Saga.Initiator}'"))),
            When(StatusRequested)
                .Respond(c => c.Saga.ToStatus()));
        OnUnhandledEvent(c =>
        {
            c.Saga.Record(new MessageIgnored(MessageName(c.Event), $"no effect while {c.Saga.CurrentState}", Now));
            return Task.CompletedTask;
        });
    }

    public State Prepared { get; private set; } = null!;
    public State Committed { get; private set; } = null!;
    public State Completed { get; private set; } = null!;
    public State RolledBack { get; private set; } = null!;
    public State NeedsAttention { get; private set; } = null!;
    public State Voiding { get; private set; } = null!;
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
    public Event<CreditVoided> Voided { get; private set; } = null!;
    public Event<GetTransferStatus> StatusRequested { get; private set; } = null!;
    public Event<RetryCredit> RetryCreditAsked { get; private set; } = null!;
    public Event<RecheckTransfer> RecheckAsked { get; private set; } = null!;
    public Event<RefundTransfer> RefundAsked { get; private set; } = null!;
    public Event<ResolveTransfer> ResolveAsked { get; private set; } = null!;

    private DateTimeOffset Now => _clock.GetUtcNow();

    private IEnumerable<State> AllBut(State except) => TransferStates.All.Where(s => s != except.Name).Select(s => GetState(s));

    private Uri SourceLedger(TransferState s) => Queues.LedgerAddress(s.FromLedger);
    private Uri DestinationLedger(TransferState s) => Queues.LedgerAddress(s.ToLedger);

    private static bool Holds(TransferState s, StoreHalfMessage m) =>
        s.From == m.From && s.To == m.To && s.Amount == m.Amount && s.Currency == m.Currency && s.Initiator == m.Initiator;

    private static ExecuteLocalTransaction LocalTransactionFor(TransferState s) => new(s.CorrelationId, s.From, s.To, s.Amount, s.Currency, s.Initiator);

    private static CreditAccount CreditFor(TransferState s) => new(s.CorrelationId, s.To, s.Amount, s.Currency);

    private void RequestCredit<T>(BehaviorContext<TransferState, T> c) where T : class =>
        c.Saga.Record(new CreditRequested(nameof(CreditPurpose.Transfer), c.Saga.ToLedger, c.Saga.ToAccount, c.Saga.Amount, Now, ResendAt(c.Saga)));

    private void RequestRefund<T>(BehaviorContext<TransferState, T> c) where T : class =>
        c.Saga.Record(new CreditRequested(nameof(CreditPurpose.Refund), c.Saga.FromLedger, c.Saga.FromAccount, c.Saga.Amount, Now, ResendAt(c.Saga)));

    private DateTimeOffset ResendAt(TransferState s) => Now + _options.CreditResendInterval(s.CreditSends + 1);

    private bool Due(TransferState s) => s.ScanDueAt is { } due && due <= Now;

    /// <summary>
    /// The scan found a transfer whose credit, void or refund is unconfirmed: early (a repeat of the scan's
    /// message), it has no effect; overdue, it is sent again, up to <see cref="TransferSagaOptions.MaxCreditSends"/>;
    /// then the transfer needs attention with <paramref name="reason"/>.
    /// </summary>
    private EventActivityBinder<TransferState, CheckBackDue> ResendOrHandOver(EventActivityBinder<TransferState, CheckBackDue> when, string what,
        Func<EventActivityBinder<TransferState, CheckBackDue>, EventActivityBinder<TransferState, CheckBackDue>> resend, Func<TransferState, string> reason) =>
        when.IfElse(c => !Due(c.Saga),
            early => early.Then(c => Ignore(c, $"the {what} is not overdue")),
            due => due.IfElse(c => c.Saga.CreditSends < _options.MaxCreditSends,
                resend,
                exhausted => exhausted
                    .Then(c => c.Saga.Record(new TransferNeedsAttention(reason(c.Saga), Now)))
                    .TransitionTo(NeedsAttention)));

    private void RequestVoid<T>(BehaviorContext<TransferState, T> c) where T : class =>
        c.Saga.Record(new VoidRequested(c.Saga.ToLedger, c.Saga.ToAccount, Now, ResendAt(c.Saga)));

    private static VoidCredit VoidFor(TransferState s) => new(s.CorrelationId, s.To, s.Amount);

    private void RecordVoid(BehaviorContext<TransferState, CreditVoided> c) =>
        c.Saga.Record(new CreditVoidConfirmed(c.Saga.ToLedger, c.Saga.ToAccount, Now));

    private void RecordRefusedCopy(BehaviorContext<TransferState, CreditVoided> c)
    {
        if (c.Message.RefusedCopy)
        {
            c.Saga.Record(new CreditCopyRefused(c.Saga.ToLedger, c.Saga.ToAccount, Now));
        }
        else
        {
            Ignore(c, "the void was confirmed before");
        }
    }

    private void ConfirmCredit(BehaviorContext<TransferState, AccountCredited> c) =>
        c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Transfer), Now, c.Message.Retries));

    private void ConfirmRefund(BehaviorContext<TransferState, AccountCredited> c) =>
        c.Saga.Record(new CreditConfirmed(nameof(CreditPurpose.Refund), Now, c.Message.Retries));

    /// <summary>A credit or refund applied although the transfer was rolled back, refunded or resolved: recorded, and a person recovers it.</summary>
    private void LateCredit(BehaviorContext<TransferState, AccountCredited> c)
    {
        var was = c.Saga.CurrentState;
        var refund = c.Message.Purpose == CreditPurpose.Refund;
        c.Saga.Record(new CreditConfirmed(c.Message.Purpose.ToString(), Now, c.Message.Retries));
        c.Saga.Record(new TransferNeedsAttention(
            $"the {(refund ? "refund" : "credit")} of {c.Saga.Amount} {c.Saga.Currency} to {(refund ? c.Saga.From : c.Saga.To)} " +
            $"was applied after the transfer was {was}: recover it", Now));
    }

    /// <summary>The producer committed after the transfer was handed to a person: recorded, so a refund becomes possible.</summary>
    private void DebitCommittedLate<T>(BehaviorContext<TransferState, T> c) where T : class
    {
        var was = c.Saga.CurrentState;
        c.Saga.Record(new TransferCommitted(typeof(T) == typeof(CommitTransfer) ? "commit" : "check-back", Now));
        c.Saga.Record(new TransferNeedsAttention(
            $"ledger {c.Saga.FromLedger} committed the debit after the transfer was {was}: retry the credit or refund", Now));
    }

    private static string MessageName(Event e) =>
        e.GetType().GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(Event<>))?.GetGenericArguments()[0].Name ?? e.Name;

    private static CreditAccount RefundFor(TransferState s) => new(s.CorrelationId, s.From, s.Amount, s.Currency, CreditPurpose.Refund);

    private void RecordAnswer(BehaviorContext<TransferState, LocalTransactionChecked> c) =>
        c.Saga.Record(new CheckBackAnswered(c.Message.Attempt, c.Message.Outcome.ToString(), c.Message.Reason, Now));

    private void Ignore<T>(BehaviorContext<TransferState, T> c, string detail) where T : class =>
        c.Saga.Record(new MessageIgnored(typeof(T).Name, detail, Now));

    private static Task NotFound(ConsumeContext context, Guid transferId) => context.RespondAsync(new TransferNotFound(transferId));

    private static RepairRejected Refused(TransferState s, string reason) => new(s.CorrelationId, s.CurrentState, reason);

    private static RepairRejected NotRepairable(TransferState s) =>
        new(s.CorrelationId, s.CurrentState, $"the transfer is {s.CurrentState}: only a transfer that needs attention can be repaired");

    private static string FaultReason(Fault<CreditAccount> fault) =>
        fault.Exceptions is { Length: > 0 } e ? $"{e[0].ExceptionType}: {e[0].Message}" : "unknown fault";
}
