namespace Saga.Contracts;

// Operator repair of a transfer that needs attention, and the fence at the destination ledger that every
// compensation waits for. Each repair is recorded on the transfer's stream with
// who asked and why.

/// <summary>Send the credit again (safe: the credit is idempotent); refused once the credit was voided.</summary>
public sealed record RetryCredit(Guid TransferId, string Operator, string Reason);

/// <summary>Start check-backs again for a transfer that exhausted them.</summary>
public sealed record RecheckTransfer(Guid TransferId, string Operator, string Reason);

/// <summary>
/// Credit the amount back to the source account, once the destination ledger has voided the
/// transfer's credit; if the credit was applied first, the transfer ends completed and nothing is refunded.
/// </summary>
public sealed record RefundTransfer(Guid TransferId, string Operator, string Reason);

/// <summary>Close the transfer as handled outside the system; a committed transfer's credit is voided first, as for a refund.</summary>
public sealed record ResolveTransfer(Guid TransferId, string Operator, string Reason);

/// <summary>The coordinator's answer when a repair does not apply to the transfer's current state.</summary>
public sealed record RepairRejected(Guid TransferId, string State, string Reason);

/// <summary>The coordinator accepted a repair and recorded it.</summary>
public sealed record RepairAccepted(Guid TransferId, string State);

/// <summary>
/// The fence before any compensation: the destination ledger records a void under the key the
/// transfer's credit would write, unless the credit is there already. Answered
/// <see cref="CreditVoided"/> when the void stands, <see cref="AccountCredited"/> when the credit won.
/// </summary>
public sealed record VoidCredit(Guid TransferId, AccountRef Account, decimal Amount);

/// <summary>
/// The transfer's credit can never be applied at <see cref="Account"/>'s ledger. <see cref="RefusedCopy"/>
/// is set when the answer is to a copy of the credit that arrived after the void and was refused.
/// </summary>
public sealed record CreditVoided(Guid TransferId, AccountRef Account, decimal Amount, bool RefusedCopy = false);
