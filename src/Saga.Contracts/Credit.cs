namespace Saga.Contracts;

/// <summary>
/// Credit an account for a transfer. Idempotent per (<see cref="TransferId"/>, <see cref="Purpose"/>):
/// a repeated command changes nothing and still answers <see cref="AccountCredited"/>. A credit that
/// fails for good reaches the coordinator as MassTransit's <c>Fault&lt;CreditAccount&gt;</c>.
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
