using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>Accounts live in their ledger's service; the Api asks it, never its tables.</summary>
public static class AccountEndpoints
{
    public static void MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/ledgers/{ledger}/accounts").WithTags("Accounts");
        accounts.MapPost("", Open).RequireAuthorization(Roles.Operator);
        accounts.MapGet("/{accountId}", Get).RequireAuthorization(Roles.Transfers);
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
        Response<AccountBalance, AccountNotFound> response;
        try
        {
            response = await clients.CreateRequestClient<GetAccount>(Queues.LedgerAccountsAddress(ledger)).GetResponse<AccountBalance, AccountNotFound>(
                new GetAccount(ledger, accountId), cancellationToken, options.Value.RequestTimeout);
        }
        catch (RequestTimeoutException)
        {
            return Http.NoAnswer($"Ledger {ledger}", "Nothing was changed; send the request again.");
        }
        return response.Is(out Response<AccountBalance>? balance) && Ownership.MaySeeAccount(http, balance.Message.Owner)
            ? TypedResults.Ok(new AccountResponse(ledger, accountId, balance.Message.Balance, balance.Message.Owner))
            : Http.Problem(404, "No such account", $"ledger {ledger} has no account '{accountId}' you may see");
    }
}
