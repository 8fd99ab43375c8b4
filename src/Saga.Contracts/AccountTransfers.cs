namespace Saga.Contracts;

// One ledger's record of what it did to an account, asked on its accounts queue (Queues.LedgerAccounts).

/// <summary>
/// The transfers that touched the account, newest first, <see cref="Take"/> at most, older than the
/// <see cref="Before"/> cursor a previous answer gave (<see cref="AccountTransfers.Next"/>). <see cref="Viewer"/>
/// is the caller's sub, or null for an operator: an account another caller owns is answered as not found.
/// </summary>
public sealed record ListAccountTransfers(string Ledger, string AccountId, string? Viewer, string? Before, int Take)
{
    public const int MaxTake = 100;
}

/// <summary>What the ledger did to the account in a transfer.</summary>
public enum AccountEntry
{
    /// <summary>The transfer's local transaction took the amount from the account.</summary>
    Debited,

    /// <summary>The local transaction was rolled back: nothing moved (the reason says why).</summary>
    RolledBack,

    /// <summary>The transfer's credit reached the account.</summary>
    Credited,

    /// <summary>A refund gave the amount back to the account the transfer debited.</summary>
    RefundCredited,

    /// <summary>The transfer's credit was voided before it arrived: nothing moved, and a later copy is refused.</summary>
    CreditVoided,
}

public sealed record AccountTransfer(Guid TransferId, AccountEntry Entry, decimal Amount, DateTimeOffset At, string? Reason);

/// <summary>
/// The account's balance and owner with a page of its transfers; <see cref="Next"/> asks for the older ones,
/// null when there are none.
/// </summary>
public sealed record AccountTransfers(string Ledger, string AccountId, decimal Balance, string? Owner, IReadOnlyList<AccountTransfer> Items, string? Next);

/// <summary>The request is not one a ledger answers: a bad account id, take or cursor.</summary>
public sealed record AccountTransfersRefused(string Ledger, string AccountId, string Reason);
