namespace Saga.Contracts;

// Talking to one ledger service (queue "ledger-{id}"): its accounts, and the producer's role in a transfer.

public sealed record OpenAccount(string Ledger, string AccountId, decimal OpeningBalance);

/// <summary>The account exists with this balance; <see cref="Created"/> is false when it already did (idempotent open).</summary>
public sealed record AccountOpened(string Ledger, string AccountId, decimal Balance, bool Created);

/// <summary>The account already exists with a different opening balance.</summary>
public sealed record AccountOpenRejected(string Ledger, string AccountId, string Reason);

public sealed record GetAccount(string Ledger, string AccountId);

public sealed record AccountBalance(string Ledger, string AccountId, decimal Balance);

public sealed record AccountNotFound(string Ledger, string AccountId);

/// <summary>
/// A transfer asked of the source ledger (the producer). It sends the half message, runs its local
/// transaction (the debit) and commits or rolls back. Idempotent per <see cref="TransferId"/>.
/// </summary>
public sealed record SubmitTransfer(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency);

/// <summary>The producer ran its local transaction: <see cref="Outcome"/> is Committed or RolledBack.</summary>
public sealed record TransferSubmitted(Guid TransferId, LocalTransactionOutcome Outcome, string? Reason = null);

/// <summary>
/// The producer refused before touching money: no half message stored, or a reused id with another body.
/// <see cref="Kind"/> says which, for a client to act on; <see cref="Reason"/> is for people.
/// Absent (from a producer older than the field) it is to be read as <see cref="TransferRejectionKind.NotAcknowledged"/>:
/// refused for now, safe to ask again.
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
