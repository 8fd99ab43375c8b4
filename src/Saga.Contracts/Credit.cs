namespace Saga.Contracts;

/// <summary>
/// Credit an account for a transfer. Idempotent per (<see cref="TransferId"/>, <see cref="Purpose"/>):
/// a repeated command changes nothing and still answers <see cref="AccountCredited"/>. A credit that
/// fails for good reaches the coordinator as MassTransit's <c>Fault&lt;CreditAccount&gt;</c>. A
/// transfer credit whose void was recorded first is refused for good and answered <see cref="CreditVoided"/>.
/// </summary>
public sealed record CreditAccount(Guid TransferId, AccountRef Account, decimal Amount, string Currency, CreditPurpose Purpose = CreditPurpose.Transfer);

/// <summary>The credit is applied; <see cref="Retries"/> counts the failed attempts before it (retries and redeliveries).</summary>
public sealed record AccountCredited(Guid TransferId, AccountRef Account, decimal Amount, CreditPurpose Purpose = CreditPurpose.Transfer, int Retries = 0);

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

public enum CreditPurpose
{
    /// <summary>The transfer's credit to its destination.</summary>
    Transfer = 0,

    /// <summary>A compensating credit back to the source account, asked for by an operator.</summary>
    Refund = 1,
}
