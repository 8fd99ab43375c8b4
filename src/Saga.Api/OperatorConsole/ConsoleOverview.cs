using Marten;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>The console's first page: transfers by state, and those that need a person.</summary>
internal static class ConsoleOverview
{
    private const int AttentionShown = 50;

    public static void Map(RouteGroupBuilder console) =>
        console.MapGet("", Overview).RequireAuthorization(ConsoleAuthentication.Viewer);

    private static async Task<IResult> Overview(HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        // Whom the listing shows: operators every transfer, anyone else the transfers it asked for.
        var initiator = Ownership.IsOperator(http) ? null : Http.Caller(http);
        var page = new ConsolePages(http);
        page.Raw("<form method=\"get\" action=\"" + Root + "/transfers\" class=\"repair\"><label for=\"id\">Transfer id</label>"
            + "<input type=\"text\" id=\"id\" name=\"id\" required minlength=\"32\" maxlength=\"36\" spellcheck=\"false\" autocomplete=\"off\"><button type=\"submit\">Open</button></form>");

        page.Raw("<h2>Transfers by state</h2><table><thead><tr><th scope=\"col\">State</th><th scope=\"col\" class=\"number\">Transfers</th></tr></thead><tbody>");
        foreach (var state in TransferStates.All)
        {
            var query = session.Query<TransferState>().Where(x => x.CurrentState == state);
            if (initiator is not null)
            {
                query = query.Where(x => x.Initiator == initiator);
            }
            var count = await query.CountAsync(cancellationToken);
            page.Raw($"<tr id=\"state-{E(state)}\"><td class=\"state-{E(state)}\">{E(state)}</td><td class=\"number\">{count}</td></tr>");
        }
        page.Raw("</tbody></table>");

        var attention = await TransferViews.InState(session, TransferStates.NeedsAttention, initiator, null, AttentionShown, cancellationToken);
        page.Raw($"<h2>Needs attention</h2>");
        if (attention.Count == 0)
        {
            page.Raw("<p>No transfer needs attention.</p>");
        }
        else
        {
            page.Raw($"<p>The {attention.Count} most recently changed.</p><table><thead><tr><th scope=\"col\">Transfer</th><th scope=\"col\">Reason</th>"
                + "<th scope=\"col\">From</th><th scope=\"col\">To</th><th scope=\"col\" class=\"number\">Amount</th><th scope=\"col\">Changed</th></tr></thead><tbody>");
            foreach (var t in attention)
            {
                page.Raw($"<tr><td><a class=\"id\" href=\"{Root}/transfers/{t.TransferId}\">{t.TransferId}</a></td><td>{E(t.Reason)}</td>"
                    + $"<td>{E(t.From.ToString())}</td><td>{E(t.To.ToString())}</td><td class=\"number\">{Amount(t.Amount)}</td><td>{Time(t.UpdatedAt)}</td></tr>");
            }
            page.Raw("</tbody></table>");
        }
        return page.Page("Overview");
    }
}
