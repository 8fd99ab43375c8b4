namespace Saga.Api.Endpoints;

// The JSON bodies of the account endpoints (camelCase on the wire): renaming a property changes what clients send and read.

/// <summary>An account to open for <see cref="Owner"/>: the <c>sub</c> of the caller allowed to debit and read it.</summary>
public sealed record OpenAccountRequest(string? AccountId, decimal? OpeningBalance, string? Owner);

public sealed record AccountResponse(string Ledger, string AccountId, decimal Balance, string? Owner);

/// <summary>A page of the account's transfers, newest first; <see cref="Next"/> is the <c>before</c> of the next page, null at the last.</summary>
public sealed record AccountTransfersResponse(string Ledger, string AccountId, decimal Balance, string? Owner, IReadOnlyList<AccountTransferItem> Items, string? Next);

/// <summary>
/// What the ledger did to the account in one transfer (<see cref="Entry"/>: debited, rolledBack, credited, refundCredited,
/// creditVoided), when, and the transfer's <see cref="State"/> now (null when the coordinator has no such transfer of this account).
/// </summary>
public sealed record AccountTransferItem(Guid TransferId, string Entry, decimal Amount, DateTimeOffset At, string? Reason, string? State);
