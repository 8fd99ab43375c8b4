namespace Saga.Api.Endpoints;

// The JSON bodies of the transfer endpoints (camelCase on the wire): renaming a property changes what clients send and read.

public sealed record AccountBody(string? Ledger, string? AccountId);

public sealed record TransferRequest(AccountBody? From, AccountBody? To, decimal? Amount);

public sealed record TransferAccepted(Guid TransferId, string State);

public sealed record TransferResponse(
    Guid TransferId, string State, AccountBody From, AccountBody To, decimal Amount, int CheckBacks, string? Reason,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record TransferEvent(long Version, string Type, DateTimeOffset Timestamp, object Data);

public sealed record TransferPage(IReadOnlyList<TransferResponse> Items, string? Next);

public sealed record RepairRequest(string? Reason);
