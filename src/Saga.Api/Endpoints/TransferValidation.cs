using System.Globalization;
using Saga.Components.EventStore;
using Saga.Components.Ledgers;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>What the transfer endpoints accept: each check answers the problem that says why not, or null.</summary>
internal static class TransferValidation
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const int IdempotencyKeyMaxLength = 128;

    /// <summary><see cref="IdempotencyKey"/>'s alphabet as a regular expression, for the document.</summary>
    public const string IdempotencyKeyPattern = "^[ -~]+$";
    public const int MaxReasonLength = 500;

    /// <summary>Printable ASCII, so that a key reads the same in every log and no two keys look alike.</summary>
    public static IResult? IdempotencyKey(string key) =>
        key.Length is 0 or > IdempotencyKeyMaxLength || !key.All(c => c is >= ' ' and <= '~')
            ? Http.Invalid(new() { [IdempotencyKeyHeader] = [$"the Idempotency-Key header is required: 1 to {IdempotencyKeyMaxLength} printable ASCII characters"] })
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

    /// <summary>
    /// A listing's query, each parameter at most once and none unknown (names are case-sensitive, as in bodies):
    /// <c>state</c> (required), <c>limit</c> (digits, 1 to <see cref="MaxLimit"/>, <see cref="DefaultLimit"/> when absent) and
    /// <c>after</c>, the cursor whose position is <paramref name="after"/>.
    /// </summary>
    public static IResult? Listing(IQueryCollection query, out string state, out int limit, out TransferPosition? after)
    {
        var errors = new Dictionary<string, string[]>();
        string[] parameters = ["state", "limit", "after"];
        foreach (var (name, values) in query)
        {
            if (!parameters.Contains(name, StringComparer.Ordinal))
            {
                errors[Http.Echo(name)] = [$"not a parameter of this listing: {string.Join(", ", parameters)}"];
            }
            else if (values.Count > 1)
            {
                errors[name] = [$"{name} may be given once"];
            }
        }
        string? Single(string name) => query.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;

        state = Single("state") ?? "";
        if (!errors.ContainsKey("state") && !TransferStates.All.Contains(state))
        {
            errors["state"] = [$"state is required, one of: {string.Join(", ", TransferStates.All)}"];
        }
        limit = DefaultLimit;
        if (!errors.ContainsKey("limit") && Single("limit") is { } text
            && !(int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxLimit))
        {
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxLimit}"];
        }
        after = null;
        if (!errors.ContainsKey("after") && Single("after") is { } cursor)
        {
            after = TransferCursor.Parse(cursor);
            if (after is null)
            {
                errors["after"] = ["after is not a cursor this Api returned"];
            }
        }
        return errors.Count > 0 ? Http.Invalid(errors) : null;
    }

    public static IResult? RepairReason(RepairRequest body) =>
        body.Reason is not { Length: > 0 and <= MaxReasonLength } reason || reason.Any(c => char.IsControl(c) && c is not '\n')
            ? Http.Invalid(new() { ["reason"] = [$"reason is required: 1 to {MaxReasonLength} characters, no control characters"] })
            : null;

    private static void AddAccountErrors(Dictionary<string, string[]> errors, string field, AccountBody? account)
    {
        if (account is null)
        {
            errors[field] = [$"{field} is required: {{ \"ledger\": \"A\", \"accountId\": \"alice\" }}"];
            return;
        }
        if (AccountIds.Error(account.Ledger, $"{field}.ledger") is { } ledgerError)
        {
            errors[$"{field}.ledger"] = [ledgerError];
        }
        if (AccountIds.Error(account.AccountId, $"{field}.accountId") is { } idError)
        {
            errors[$"{field}.accountId"] = [idError];
        }
    }
}
