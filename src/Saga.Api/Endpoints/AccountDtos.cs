namespace Saga.Api.Endpoints;

// The JSON bodies of the account endpoints (camelCase on the wire): renaming a property changes what clients send and read.

/// <summary>An account to open for <see cref="Owner"/>: the <c>sub</c> of the caller allowed to debit and read it.</summary>
public sealed record OpenAccountRequest(string? AccountId, decimal? OpeningBalance, string? Owner);

public sealed record AccountResponse(string Ledger, string AccountId, decimal Balance, string? Owner);
