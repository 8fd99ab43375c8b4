namespace Saga.Contracts;

/// <summary>An account in one ledger, e.g. ("A", "alice").</summary>
public sealed record AccountRef(string Ledger, string AccountId)
{
    public override string ToString() => $"{Ledger}/{AccountId}";
}
