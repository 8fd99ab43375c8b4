using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Api.Endpoints;
using Saga.Components.Ledgers;
using Saga.Contracts;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// An account: its balance and what its ledger did to it in each transfer, paged by cursor, as the JSON API
/// answers it (<see cref="AccountEndpoints"/>): its owner and operators see it, anyone else is told there is none.
/// </summary>
internal static class ConsoleAccounts
{
    private const int PageSize = 50;

    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/accounts", Lookup).RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapGet("/accounts/{ledger}/{accountId}", Account).RequireAuthorization(ConsoleAuthentication.Viewer);
    }

    /// <summary>The account's page; other pages link here.</summary>
    public static string PathOf(string ledger, string accountId) => $"{Root}/accounts/{Uri.EscapeDataString(ledger)}/{Uri.EscapeDataString(accountId)}";

    /// <summary>The lookup form; sent (a GET, so it works without script), it leads to the account's page.</summary>
    private static IResult Lookup(string? ledger, string? accountId, HttpContext http, IOptions<ApiOptions> options)
    {
        if (ledger is null && accountId is null)
        {
            return LookupPage(http, options, null, null, null, StatusCodes.Status200OK);
        }
        if (ledger is null || !options.Value.KnownLedgers.Contains(ledger))
        {
            return LookupPage(http, options, ledger, accountId, $"Choose one of the ledgers: {string.Join(", ", options.Value.KnownLedgers)}.", StatusCodes.Status400BadRequest);
        }
        if (AccountIds.Error(accountId, "The account id") is { } invalid)
        {
            return LookupPage(http, options, ledger, accountId, invalid + ".", StatusCodes.Status400BadRequest);
        }
        return Results.Redirect(PathOf(ledger, accountId!));
    }

    private static IResult LookupPage(HttpContext http, IOptions<ApiOptions> options, string? ledger, string? accountId, string? problem, int status)
    {
        var page = new ConsolePages(http);
        if (problem is not null)
        {
            page.Raw($"<p class=\"message\" role=\"alert\">{E(problem)}</p>");
        }
        page.Raw(LookupForm(options, ledger, accountId));
        return page.Page("Accounts", status);
    }

    private static string LookupForm(IOptions<ApiOptions> options, string? ledger, string? accountId)
    {
        var choices = string.Concat(options.Value.KnownLedgers.Select(l =>
            $"<option value=\"{E(l)}\"{(l == ledger ? " selected" : "")}>{E(l)}</option>"));
        return $"<form method=\"get\" action=\"{Root}/accounts\" class=\"lookup\">"
            + $"<label for=\"ledger\">Ledger<select id=\"ledger\" name=\"ledger\" required>{choices}</select></label>"
            + $"<label for=\"accountId\">Account id<input type=\"text\" id=\"accountId\" name=\"accountId\" value=\"{E(accountId)}\" required maxlength=\"{AccountIds.MaxLength}\" "
            + "pattern=\"[A-Za-z0-9._\\-]+\" spellcheck=\"false\" autocomplete=\"off\"></label>"
            + "<button type=\"submit\">Look up</button></form>";
    }

    private static async Task<IResult> Account(string ledger, string accountId, string? before, HttpContext http, IScopedClientFactory clients, IQuerySession session,
        IOptions<ApiOptions> options)
    {
        if (!options.Value.KnownLedgers.Contains(ledger))
        {
            return Message(http, StatusCodes.Status404NotFound, "No such ledger",
                $"{(AccountIds.IsValid(ledger) ? $"'{ledger}'" : "The ledger in the address")} is not one of the ledgers: {string.Join(", ", options.Value.KnownLedgers)}.");
        }
        if (AccountIds.Error(accountId, "The account id") is { } invalid)
        {
            return Message(http, StatusCodes.Status400BadRequest, "Not an account id", invalid + ".");
        }
        if (before is not null && AccountTransfersCursor.Parse(before) is null)
        {
            return Message(http, StatusCodes.Status400BadRequest, "Not a page of this account", "The address names a page no ledger gave: open the account again from its first page.");
        }
        var answer = await AccountEndpoints.AskTransfers(http, ledger, accountId, before, PageSize, clients, session, options);
        switch (answer.Outcome)
        {
            case AccountAnswer.NoAnswer:
                return Message(http, StatusCodes.Status503ServiceUnavailable, $"Ledger {ledger} did not answer in time", "Nothing was changed: open the page again in a moment.");
            case AccountAnswer.Refused:
                return Message(http, StatusCodes.Status400BadRequest, $"Ledger {ledger} refused the request", answer.Reason!);
            case AccountAnswer.NotFound:
                return Message(http, StatusCodes.Status404NotFound, "No such account", $"Ledger {ledger} has no account '{accountId}' you may see.");
        }
        var account = answer.Account!;
        var page = new ConsolePages(http);
        page.Raw(LookupForm(options, ledger, accountId))
            .Raw("<dl class=\"facts\">")
            .Raw($"<dt>Ledger</dt><dd>{E(ledger)}</dd><dt>Account</dt><dd class=\"id\">{E(accountId)}</dd>")
            .Raw($"<dt>Balance</dt><dd id=\"balance\">{Amount(account.Balance)} EUR</dd>");
        if (Ownership.IsOperator(http))
        {
            page.Raw($"<dt>Owner</dt><dd id=\"owner\">{(account.Owner is null ? "none (opened before owners were kept)" : E(account.Owner))}</dd>");
        }
        page.Raw("</dl><h2>Transfers</h2>");
        if (account.Items.Count == 0)
        {
            page.Raw(before is null ? "<p>The ledger has done nothing to this account yet.</p>" : "<p>No older transfers.</p>");
        }
        else
        {
            page.Raw($"<p>{(before is null ? "The newest" : "Older")} entries first: what ledger {E(ledger)} did to the account in each transfer, and the transfer's state now.</p>")
                .Raw("<table id=\"account-transfers\"><thead><tr><th scope=\"col\">Transfer</th><th scope=\"col\">What the ledger did</th>"
                    + "<th scope=\"col\" class=\"number\">Amount</th><th scope=\"col\">At</th><th scope=\"col\">State now</th></tr></thead><tbody>");
            foreach (var t in account.Items)
            {
                var state = answer.States!.TryGetValue(t.TransferId, out var s) ? s.CurrentState : null;
                var what = t.Reason is null ? E(Label(t.Entry)) : $"{E(Label(t.Entry))}: {E(t.Reason)}";
                page.Raw($"<tr class=\"entry-{E(AccountEndpoints.EntryName(t.Entry))}\"><td><a class=\"id\" href=\"{Root}/transfers/{t.TransferId}\">{t.TransferId}</a></td>"
                    + $"<td>{what}</td><td class=\"number\">{Signed(t)}</td><td>{Time(t.At)}</td>"
                    + $"<td{(state is null ? "" : $" class=\"state-{E(state)}\"")}>{(state is null ? "unknown" : E(state))}</td></tr>");
            }
            page.Raw("</tbody></table>");
        }
        var pages = new List<string>();
        if (before is not null)
        {
            pages.Add($"<a href=\"{E(PathOf(ledger, accountId))}\">Newest</a>");
        }
        if (account.Next is not null)
        {
            pages.Add($"<a id=\"older\" href=\"{E(PathOf(ledger, accountId))}?before={E(Uri.EscapeDataString(account.Next))}\" rel=\"next\">Older transfers</a>");
        }
        if (pages.Count > 0)
        {
            page.Raw($"<nav class=\"pages\" aria-label=\"Pages\">{string.Join(" ", pages)}</nav>");
        }
        return page.Page($"Account {ledger}/{accountId}");
    }

    private static string Label(AccountEntry entry) => entry switch
    {
        AccountEntry.Debited => "Debited",
        AccountEntry.RolledBack => "Debit rolled back",
        AccountEntry.Credited => "Credited",
        AccountEntry.RefundCredited => "Refund credited",
        _ => "Credit voided",
    };

    /// <summary>The amount as it moved the balance: minus for a debit, plus for a credit, unsigned where nothing moved.</summary>
    private static string Signed(AccountTransfer t) => t.Entry switch
    {
        AccountEntry.Debited => "−" + Amount(t.Amount),
        AccountEntry.Credited or AccountEntry.RefundCredited => "+" + Amount(t.Amount),
        _ => $"<span class=\"unmoved\">{Amount(t.Amount)}</span>",
    };
}
