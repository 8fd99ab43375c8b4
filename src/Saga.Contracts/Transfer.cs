namespace Saga.Contracts;

// One transfer, in the order its messages travel: the Api asks the source ledger (the producer), which
// stores the half message with the coordinator, debits, and commits or rolls back; the coordinator then
// credits the destination ledger (the consumer). The producer answers the Api after its local transaction.

/// <summary>
/// A transfer asked of the source ledger (the producer). It sends the half message, runs its local
/// transaction (the debit) and commits or rolls back. Idempotent per <see cref="TransferId"/>.
/// </summary>
public sealed record SubmitTransfer(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency);

/// <summary>
/// The half message: the producer (the ledger owning <see cref="From"/>) announces the transfer before
/// touching any money. The coordinator stores it as not deliverable and answers
/// <see cref="HalfMessageAcknowledged"/>; without that answer the producer must not debit.
/// </summary>
public sealed record StoreHalfMessage(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency);

/// <summary>
/// The coordinator holds the half message for <see cref="TransferId"/>. <see cref="Conflict"/> is set when
/// the transfer it holds under that id is a different one: the producer must then not debit.
/// </summary>
public sealed record HalfMessageAcknowledged(Guid TransferId, string State, string? Conflict = null);

/// <summary>
/// The coordinator holds the half message (this is its acknowledgement): the producer, the ledger owning
/// <see cref="From"/>, runs its local transaction (the debit) once and answers Commit or Rollback.
/// Sent only while the transfer is Prepared; a repeat finds the recorded outcome and debits nothing.
/// </summary>
public sealed record ExecuteLocalTransaction(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency);

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

/// <summary>The producer ran its local transaction: <see cref="Outcome"/> is Committed or RolledBack.</summary>
public sealed record TransferSubmitted(Guid TransferId, LocalTransactionOutcome Outcome, string? Reason = null);

/// <summary>
/// The producer refused before touching money: no half message stored, or a reused id with another body.
/// <see cref="Kind"/> says which, for a client to act on; <see cref="Reason"/> is for people.
/// Absent (from a producer older than the field) the kind is unknown: nothing was debited, and the Api
/// answers as for <see cref="TransferRejectionKind.NotAcknowledged"/> (503).
/// </summary>
public sealed record TransferRejected(Guid TransferId, string Reason, TransferRejectionKind? Kind = null);

public enum TransferRejectionKind
{
    /// <summary>The coordinator did not acknowledge the half message in time: nothing debited, ask again.</summary>
    NotAcknowledged,

    /// <summary>The transfer id was first used for a transfer with another body.</summary>
    IdReused,

    /// <summary>The source ledger has no such account.</summary>
    UnknownSourceAccount,

    /// <summary>Not a positive amount in whole cents within the ledger's limit.</summary>
    InvalidAmount,

    /// <summary>The request reached a ledger that does not hold the source account.</summary>
    WrongLedger,
}
