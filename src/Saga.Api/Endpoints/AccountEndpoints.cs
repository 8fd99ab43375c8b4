using System.Text.Json;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Components.Ledgers;
using Saga.Components.Transfers;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>Accounts live in their ledger's service; the Api asks it, never its tables.</summary>
public static class AccountEndpoints
{
    public static void MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/ledgers/{ledger}/accounts").WithTags("Accounts");
        accounts.MapPost("", Open).RequireAuthorization(Roles.Operator)
            .WithName("OpenAccount")
            .WithSummary("Open an account")
            .WithDescription("Asks the ledger's service to open the account with its opening balance and owner (the `sub` allowed to debit " +
                             "and read it). Opening the same account again with the same balance and owner is the same account.")
            .WithJsonBody<OpenAccountRequest>()
            .Produces<AccountResponse>(StatusCodes.Status201Created)
            .Problems(
                (400, "A missing or malformed field (each named in `errors`)"),
                (404, "No such ledger"),
                (409, "The account exists with another opening balance or owner"),
                (413, "The body is larger than the Api accepts"),
                (415, "The body is not JSON"),
                (503, "The ledger did not answer in time: send the same request again"));
        accounts.MapGet("/{accountId}", Get).RequireAuthorization(Roles.Transfers)
            .WithName("GetAccount")
            .WithSummary("Read an account's balance")
            .WithDescription("From the ledger's service. Its owner and operators see it; anyone else is told there is no such account.")
            .Produces<AccountResponse>()
            .Problems((400, "A malformed account id"), (404, "No such ledger, or no such account the caller may see"),
                (503, "The ledger did not answer in time"));
        accounts.MapGet("/{accountId}/transfers", Transfers).RequireAuthorization(Roles.Transfers)
            .WithName("ListAccountTransfers")
            .WithTakeQuery()
            .WithSummary("List what the ledger did to an account")
            .WithDescription("Newest first, a page at a time (`next` is the `before` of the next page): each debit, rollback, credit, refund " +
                             "and void, with the transfer's state now.")
            .Produces<AccountTransfersResponse>()
            .Problems((400, "A malformed account id, take or before"), (404, "No such ledger, or no such account the caller may see"),
                (503, "The ledger did not answer in time"));
    }

    private static async Task<IResult> Open(string ledger, HttpRequest request, IScopedClientFactory clients, IOptions<ApiOptions> options)
    {
        if (AccountValidation.UnknownLedger(ledger, options) is { } unknown)
        {
            return unknown;
        }
        var (body, problem) = await Http.ReadBody<OpenAccountRequest>(request, options);
        if (problem is not null)
        {
            return problem;
        }
        if (AccountValidation.Opening(body!, options.Value) is { } invalid)
        {
            return invalid;
        }

        Response<AccountOpened, AccountOpenRejected> response;
        try
        {
            response = await clients.CreateRequestClient<OpenAccount>(Queues.LedgerAccountsAddress(ledger)).GetResponse<AccountOpened, AccountOpenRejected>(
                new OpenAccount(ledger, body!.AccountId!, body.OpeningBalance!.Value, body.Owner), request.HttpContext.RequestAborted, options.Value.RequestTimeout);
        }
        catch (RequestTimeoutException)
        {
            return Http.NoAnswer($"Ledger {ledger}", "The account may or may not have been opened; opening is idempotent: send the same request again.");
        }
        if (!response.Is(out Response<AccountOpened>? created))
        {
            response.Is(out Response<AccountOpenRejected>? rejected);
            return Http.Problem(409, "The account exists with another opening balance or owner", rejected!.Message.Reason);
        }
        var opened = created.Message;
        return TypedResults.Created($"/ledgers/{ledger}/accounts/{Uri.EscapeDataString(opened.AccountId)}",
            new AccountResponse(ledger, opened.AccountId, opened.Balance, opened.Owner));
    }

    /// <summary>The account, for its owner and operators; anyone else is told there is no such account.</summary>
    private static async Task<IResult> Get(string ledger, string accountId, HttpContext http, IScopedClientFactory clients, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        if (AccountValidation.UnknownLedger(ledger, options) is { } unknown)
        {
            return unknown;
        }
        if (AccountValidation.AccountId(accountId) is { } invalid)
        {
            return invalid;
        }
        AccountBalance? balance;
        try
        {
            balance = await AskBalance(ledger, accountId, clients, options.Value.RequestTimeout, cancellationToken);
        }
        catch (RequestTimeoutException)
        {
            return Http.NoAnswer($"Ledger {ledger}", "Nothing was changed; send the request again.");
        }
        return balance is not null && Ownership.MaySeeAccount(http, balance.Owner)
            ? TypedResults.Ok(new AccountResponse(ledger, accountId, balance.Balance, balance.Owner))
            : Http.Problem(404, "No such account", $"ledger {ledger} has no account '{accountId}' you may see");
    }

    /// <summary>The account's balance and owner as its ledger answers, or null if it has no such account; whether the caller may see it is the caller's to check.</summary>
    /// <exception cref="RequestTimeoutException">The ledger did not answer within <paramref name="timeout"/>.</exception>
    internal static async Task<AccountBalance?> AskBalance(string ledger, string accountId, IScopedClientFactory clients, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var response = await clients.CreateRequestClient<GetAccount>(Queues.LedgerAccountsAddress(ledger)).GetResponse<AccountBalance, AccountNotFound>(
            new GetAccount(ledger, accountId), cancellationToken, timeout);
        return response.Is(out Response<AccountBalance>? balance) ? balance.Message : null;
    }

    /// <summary>
    /// What the account's ledger did to it in each transfer, newest first, with each transfer's state now; for
    /// the account's owner and operators, as <see cref="Get"/>.
    /// </summary>
    private static async Task<IResult> Transfers(string ledger, string accountId, string? take, string? before, HttpContext http, IScopedClientFactory clients,
        IQuerySession session, IOptions<ApiOptions> options)
    {
        if (AccountValidation.UnknownLedger(ledger, options) is { } unknown)
        {
            return unknown;
        }
        var (page, invalid) = AccountValidation.Listing(accountId, take, before);
        if (invalid is not null)
        {
            return invalid;
        }
        var answer = await AskTransfers(http, ledger, accountId, before, page, clients, session, options);
        return answer.Outcome switch
        {
            AccountAnswer.Found => TypedResults.Ok(new AccountTransfersResponse(ledger, accountId, answer.Account!.Balance, answer.Account.Owner,
                [.. answer.Account.Items.Select(t => new AccountTransferItem(t.TransferId, EntryName(t.Entry), t.Amount, t.At, t.Reason,
                    answer.States!.TryGetValue(t.TransferId, out var state) ? state.CurrentState : null))],
                answer.Account.Next)),
            AccountAnswer.Refused => Http.Invalid(new() { ["request"] = [answer.Reason!] }),
            AccountAnswer.NoAnswer => Http.NoAnswer($"Ledger {ledger}", "Nothing was changed; send the request again."),
            _ => Http.Problem(404, "No such account", $"ledger {ledger} has no account '{accountId}' you may see"),
        };
    }

    /// <summary>An entry as the API names it: debited, rolledBack, credited, refundCredited, creditVoided.</summary>
    internal static string EntryName(AccountEntry entry) => JsonNamingPolicy.CamelCase.ConvertName(entry.ToString());

    /// <summary>
    /// Asks the account's ledger for a page of its transfers, as the caller may see them: an operator any
    /// account's, anyone else only an account it owns (the ledger answers others as not found, and so does this).
    /// Each transfer is joined with its state in the coordinator's view, read by id, and only when that
    /// transfer is one of this account's: a caller who may see an account may see the transfers it took part in.
    /// </summary>
    internal static async Task<AccountTransfersAnswer> AskTransfers(HttpContext http, string ledger, string accountId, string? before, int take,
        IScopedClientFactory clients, IQuerySession session, IOptions<ApiOptions> options)
    {
        var viewer = Ownership.IsOperator(http) ? null : Http.Caller(http);
        Response<AccountTransfers, AccountNotFound, AccountTransfersRefused> response;
        try
        {
            response = await clients.CreateRequestClient<ListAccountTransfers>(Queues.LedgerAccountsAddress(ledger))
                .GetResponse<AccountTransfers, AccountNotFound, AccountTransfersRefused>(
                    new ListAccountTransfers(ledger, accountId, viewer, before, take), http.RequestAborted, options.Value.RequestTimeout);
        }
        catch (RequestTimeoutException)
        {
            return new(AccountAnswer.NoAnswer);
        }
        if (response.Is(out Response<AccountTransfersRefused>? refused))
        {
            return new(AccountAnswer.Refused, Reason: refused.Message.Reason);
        }
        if (!response.Is(out Response<AccountTransfers>? found) || !Ownership.MaySeeAccount(http, found.Message.Owner))
        {
            return new(AccountAnswer.NotFound);
        }
        var account = new AccountRef(ledger, accountId);
        var ids = found.Message.Items.Select(t => t.TransferId).Distinct().ToArray();
        var states = ids.Length == 0 ? [] : await session.LoadManyAsync<TransferState>(http.RequestAborted, ids);
        return new(AccountAnswer.Found, found.Message,
            states.Where(s => s.From == account || s.To == account).ToDictionary(s => s.CorrelationId));
    }
}

internal enum AccountAnswer
{
    Found,
    NotFound,
    Refused,
    NoAnswer,
}

/// <summary>The ledger's answer; when found, the account's transfers' states by id (those of its transfers the coordinator knows).</summary>
internal sealed record AccountTransfersAnswer(AccountAnswer Outcome, AccountTransfers? Account = null, IReadOnlyDictionary<Guid, TransferState>? States = null, string? Reason = null);
