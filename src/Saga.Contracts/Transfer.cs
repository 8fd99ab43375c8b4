namespace Saga.Contracts;

// One transfer, in the order its messages travel (five in all): the Api, the producer's front door, sends
// the half message to the coordinator; the coordinator stores it and asks the source ledger (the producer)
// to execute its local transaction, which debits and commits or rolls back; the coordinator then credits
// the destination ledger (the consumer), which confirms.

/// <summary>
/// The half message: announces the transfer before any money moves. The coordinator stores it as not
/// deliverable and only then sends <see cref="ExecuteLocalTransaction"/> to the ledger owning
/// <see cref="From"/>. Idempotent per <see cref="TransferId"/>; a repeat with another body is recorded
/// on the transfer's stream and changes nothing. <see cref="Initiator"/> is who asked for the transfer (the
/// caller's <c>sub</c>): only the owner of <see cref="From"/> may debit it.
/// </summary>
public sealed record StoreHalfMessage(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency, string? Initiator = null);

/// <summary>
/// The coordinator holds the half message (this is its acknowledgement): the producer, the ledger owning
/// <see cref="From"/>, runs its local transaction (the debit) once and answers Commit or Rollback.
/// Sent only while the transfer is Prepared; a repeat finds the recorded outcome and debits nothing. The
/// ledger debits only when <see cref="Initiator"/> owns <see cref="From"/>: one without an initiator
/// (an older producer) debits nothing.
/// </summary>
public sealed record ExecuteLocalTransaction(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency, string? Initiator = null);

/// <summary>The producer's local transaction (the debit) committed: deliver the credit.</summary>
public sealed record CommitTransfer(Guid TransferId);

/// <summary>The producer's local transaction did not commit: the half message is dropped.</summary>
public sealed record RollbackTransfer(Guid TransferId, string Reason);

/// <summary>
/// Credit an account for a transfer. Idempotent per (<see cref="TransferId"/>, <see cref="Purpose"/>):
/// a repeated command changes nothing and still answers <see cref="AccountCredited"/>. A credit that
/// fails for good reaches the coordinator as MassTransit's <c>Fault&lt;CreditAccount&gt;</c>. A
/// transfer credit whose void was recorded first is refused for good and answered <see cref="CreditVoided"/>.
/// </summary>
public sealed record CreditAccount(Guid TransferId, AccountRef Account, decimal Amount, string Currency, CreditPurpose Purpose = CreditPurpose.Transfer);

/// <summary>The credit is applied; <see cref="Retries"/> counts the failed attempts before it (retries and redeliveries).</summary>
public sealed record AccountCredited(Guid TransferId, AccountRef Account, decimal Amount, CreditPurpose Purpose = CreditPurpose.Transfer, int Retries = 0);

public enum CreditPurpose
{
    /// <summary>The transfer's credit to its destination.</summary>
    Transfer = 0,

    /// <summary>A compensating credit back to the source account, asked for by an operator.</summary>
    Refund = 1,
}
