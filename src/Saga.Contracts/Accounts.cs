namespace Saga.Contracts;

/// <summary>An account in one ledger, e.g. ("A", "alice").</summary>
public sealed record AccountRef(string Ledger, string AccountId)
{
    public override string ToString() => $"{Ledger}/{AccountId}";
}

// One ledger service's accounts, asked on its queue (Queues.Ledger).

/// <summary>
/// Opens an account owned by <see cref="Owner"/>: the caller identity (a token's <c>sub</c>) allowed to
/// debit it and read it. A ledger refuses an open without an owner.
/// </summary>
public sealed record OpenAccount(string Ledger, string AccountId, decimal OpeningBalance, string? Owner = null);

/// <summary>The account exists with this balance; <see cref="Created"/> is false when it already did (idempotent open).</summary>
public sealed record AccountOpened(string Ledger, string AccountId, decimal Balance, bool Created, string? Owner = null);

/// <summary>The account already exists with a different opening balance or owner, or the request is not one a ledger opens.</summary>
public sealed record AccountOpenRejected(string Ledger, string AccountId, string Reason);

public sealed record GetAccount(string Ledger, string AccountId);

/// <summary>The account's balance and its <see cref="Owner"/>, so the asker can decide who may see it.</summary>
public sealed record AccountBalance(string Ledger, string AccountId, decimal Balance, string? Owner = null);

public sealed record AccountNotFound(string Ledger, string AccountId);
