using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>What the transfer endpoints accept: each check answers the problem that says why not, or null.</summary>
internal static class TransferValidation
{
    public static IResult? IdempotencyKey(string key) =>
        key.Length is 0 or > 128 || key.Any(char.IsControl)
            ? Http.Invalid(new() { ["Idempotency-Key"] = ["the Idempotency-Key header is required: 1 to 128 printable characters"] })
            : null;

    /// <summary>400 naming each missing or malformed field; then 422 for a ledger this Api does not know, or the same account twice.</summary>
    public static IResult? Transfer(TransferRequest body, ApiOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        AddAccountErrors(errors, "from", body.From);
        AddAccountErrors(errors, "to", body.To);
        if (Http.AmountError(body.Amount, options.MaxAmount) is { } amountError)
        {
            errors["amount"] = [amountError];
        }
        if (errors.Count > 0)
        {
            return Http.Invalid(errors);
        }
        var from = new AccountRef(body.From!.Ledger!, body.From.AccountId!);
        var to = new AccountRef(body.To!.Ledger!, body.To.AccountId!);
        foreach (var (field, account) in new[] { ("from.ledger", from), ("to.ledger", to) })
        {
            if (!options.KnownLedgers.Contains(account.Ledger))
            {
                return Http.Problem(422, "Unknown ledger", $"{field}: '{account.Ledger}' is not one of the ledgers: {string.Join(", ", options.KnownLedgers)}");
            }
        }
        if (from == to)
        {
            return Http.Problem(422, "Source and destination are the same account", $"from and to are both {from}");
        }
        return null;
    }

    /// <summary>A listing's query; <paramref name="before"/> is the time its <paramref name="after"/> cursor stands for.</summary>
    public static IResult? Listing(string? state, int? limit, string? after, out DateTimeOffset? before)
    {
        var errors = new Dictionary<string, string[]>();
        if (state is null || !TransferStates.All.Contains(state))
        {
            errors["state"] = [$"state is required, one of: {string.Join(", ", TransferStates.All)}"];
        }
        if (limit is < 1 or > 200)
        {
            errors["limit"] = ["limit must be between 1 and 200"];
        }
        before = null;
        if (after is not null)
        {
            before = TransferCursor.Parse(after);
            if (before is null)
            {
                errors["after"] = ["after is not a cursor this Api returned"];
            }
        }
        return errors.Count > 0 ? Http.Invalid(errors) : null;
    }

    public static IResult? RepairReason(RepairRequest body) =>
        body.Reason is not { Length: > 0 and <= 500 } reason || reason.Any(c => char.IsControl(c) && c is not '\n')
            ? Http.Invalid(new() { ["reason"] = ["reason is required: 1 to 500 characters, no control characters"] })
            : null;

    private static void AddAccountErrors(Dictionary<string, string[]> errors, string field, AccountBody? account)
    {
        if (account is null)
        {
            errors[field] = [$"{field} is required: {{ \"ledger\": \"A\", \"accountId\": \"alice\" }}"];
            return;
        }
        if (Http.IdError(account.Ledger, $"{field}.ledger") is { } ledgerError)
        {
            errors[$"{field}.ledger"] = [ledgerError];
        }
        if (Http.IdError(account.AccountId, $"{field}.accountId") is { } idError)
        {
            errors[$"{field}.accountId"] = [idError];
        }
    }
}
