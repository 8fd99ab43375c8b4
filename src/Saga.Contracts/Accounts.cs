namespace Saga.Contracts;

/// <summary>An account in one ledger, e.g. ("A", "alice").</summary>
public sealed record AccountRef(string Ledger, string AccountId)
{
    public override string ToString() => $"{Ledger}/{AccountId}";
}

// One ledger service's accounts, asked on its queue (Queues.Ledger).

public sealed record OpenAccount(string Ledger, string AccountId, decimal OpeningBalance);

/// <summary>The account exists with this balance; <see cref="Created"/> is false when it already did (idempotent open).</summary>
public sealed record AccountOpened(string Ledger, string AccountId, decimal Balance, bool Created);

/// <summary>The account already exists with a different opening balance.</summary>
public sealed record AccountOpenRejected(string Ledger, string AccountId, string Reason);

public sealed record GetAccount(string Ledger, string AccountId);

public sealed record AccountBalance(string Ledger, string AccountId, decimal Balance);

public sealed record AccountNotFound(string Ledger, string AccountId);
