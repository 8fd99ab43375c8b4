using Microsoft.Extensions.Options;
using Saga.Components.Ledgers;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>What the account endpoints accept: each check answers the problem that says why not, or null.</summary>
internal static class AccountValidation
{
    /// <summary>404 for a ledger this Api does not know, echoing it only when it is an id (<see cref="AccountIds"/>).</summary>
    public static IResult? UnknownLedger(string ledger, IOptions<ApiOptions> options) =>
        options.Value.KnownLedgers.Contains(ledger)
            ? null
            : Http.Problem(404, "No such ledger", $"{(AccountIds.IsValid(ledger) ? $"'{ledger}'" : "the ledger in the path")} is not one of the ledgers: {string.Join(", ", options.Value.KnownLedgers)}");

    public static IResult? Opening(OpenAccountRequest body, ApiOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        if (AccountIds.Error(body.AccountId, "accountId") is { } idError)
        {
            errors["accountId"] = [idError];
        }
        if (body.OpeningBalance is null or < 0 || decimal.Round(body.OpeningBalance.Value, 2) != body.OpeningBalance || body.OpeningBalance > options.MaxAmount)
        {
            errors["openingBalance"] = [$"openingBalance is required: zero or more, at most {options.MaxAmount}, two decimal places at most"];
        }
        if (body.Owner is not { Length: > 0 and <= MaxOwnerLength } owner || owner.Any(char.IsControl) || owner.Trim() != owner)
        {
            errors["owner"] = [$"owner is required: the sub of the caller who may debit the account, 1 to {MaxOwnerLength} characters, no control characters or surrounding spaces"];
        }
        return errors.Count > 0 ? Http.Invalid(errors) : null;
    }

    /// <summary>A token's sub is at most 255 ASCII characters (OpenID Connect Core, 2).</summary>
    public const int MaxOwnerLength = 255;

    public static IResult? AccountId(string accountId) =>
        AccountIds.Error(accountId, "accountId") is { } idError ? Http.Invalid(new() { ["accountId"] = [idError] }) : null;

    public const int DefaultTake = 20;

    /// <summary>A page of an account's transfers: the id, <c>take</c> (1 to 100, by default 20) and a <c>before</c> cursor a previous page gave.</summary>
    public static (int Take, IResult? Problem) Listing(string accountId, string? take, string? before)
    {
        var errors = new Dictionary<string, string[]>();
        if (AccountIds.Error(accountId, "accountId") is { } idError)
        {
            errors["accountId"] = [idError];
        }
        var count = DefaultTake;
        if (take is not null && (!int.TryParse(take, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count)
            || count is < 1 or > ListAccountTransfers.MaxTake))
        {
            errors["take"] = [$"take must be a whole number from 1 to {ListAccountTransfers.MaxTake}"];
        }
        if (before is not null && AccountTransfersCursor.Parse(before) is null)
        {
            errors["before"] = ["before must be the next cursor of a previous page, as it was given"];
        }
        return (count, errors.Count > 0 ? Http.Invalid(errors) : null);
    }
}
