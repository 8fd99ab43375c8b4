namespace Saga.Api.Endpoints;

// The JSON bodies of the account endpoints (camelCase on the wire): renaming a property changes what clients send and read.

public sealed record OpenAccountRequest(string? AccountId, decimal? OpeningBalance);

public sealed record AccountResponse(string Ledger, string AccountId, decimal Balance);
