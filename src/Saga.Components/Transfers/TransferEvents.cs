namespace Saga.Components.Transfers;

// What is stored on a transfer's stream, one record per thing that happened. These are the stored
// schema, kept apart from the wire messages in Saga.Contracts: each may evolve on its own.

/// <summary>The half message is held; <see cref="Initiator"/> is the caller who asked (null on streams from before it was kept).</summary>
public sealed record HalfMessageStored(
    string FromLedger,
    string FromAccount,
    string ToLedger,
    string ToAccount,
    decimal Amount,
    string Currency,
    DateTimeOffset At,
    DateTimeOffset CheckBackDueAt,
    int CheckBackLimit,
    string? Initiator = null);

/// <summary>The producer's local transaction committed; <see cref="Source"/> says who told us.</summary>
public sealed record TransferCommitted(string Source, DateTimeOffset At);

public sealed record TransferRolledBack(string Source, string Reason, DateTimeOffset At);

public sealed record CheckBackSent(int Attempt, DateTimeOffset At, DateTimeOffset NextDueAt);

public sealed record CheckBackAnswered(int Attempt, string Outcome, string? Reason, DateTimeOffset At);

/// <summary>A credit sent; if it is not confirmed by <see cref="ResendAt"/>, the scan has it sent again (it is idempotent).</summary>
public sealed record CreditRequested(string Purpose, string Ledger, string Account, decimal Amount, DateTimeOffset At, DateTimeOffset? ResendAt = null);

public sealed record CreditConfirmed(string Purpose, DateTimeOffset At, int Retries = 0);

public sealed record CreditFailed(string Purpose, string Reason, DateTimeOffset At);

public sealed record TransferNeedsAttention(string Reason, DateTimeOffset At);

public sealed record CreditRetryRequested(string Operator, string Reason, DateTimeOffset At);

public sealed record RecheckRequested(string Operator, string Reason, DateTimeOffset At, DateTimeOffset CheckBackDueAt, int CheckBackLimit);

/// <summary>An operator asked for a refund: it is sent once the destination ledger has voided the credit.</summary>
public sealed record RefundRequested(string Operator, string Reason, DateTimeOffset At);

/// <summary>An operator asked to close a committed transfer: it is resolved once the destination ledger has voided the credit.</summary>
public sealed record ResolveRequested(string Operator, string Reason, DateTimeOffset At);

/// <summary>The destination ledger was asked to void the credit; unanswered by <see cref="ResendAt"/>, it is asked again.</summary>
public sealed record VoidRequested(string Ledger, string Account, DateTimeOffset At, DateTimeOffset ResendAt);

/// <summary>The destination ledger holds a void under the credit's key: the credit can never be applied.</summary>
public sealed record CreditVoidConfirmed(string Ledger, string Account, DateTimeOffset At);

/// <summary>A copy of the credit reached the destination after its void and was refused there: no money moved.</summary>
public sealed record CreditCopyRefused(string Ledger, string Account, DateTimeOffset At);

public sealed record TransferResolved(string Operator, string Reason, DateTimeOffset At);

/// <summary>A message that arrived twice, late or out of order: recorded, with no effect.</summary>
public sealed record MessageIgnored(string Message, string Detail, DateTimeOffset At);

/// <summary>A message this transfer takes only from another sender (<see cref="Security.SentBy"/>): recorded, with no effect.</summary>
public sealed record MessageRefused(string Message, string Sender, string Reason, DateTimeOffset At);
