using System.Text;
using System.Text.Json;
using Marten;
using MassTransit;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>One transfer: its facts, its whole stream as a timeline, and the repairs an operator may make.</summary>
internal static class ConsoleTransfer
{
    private static readonly JsonSerializerOptions EventJson = new(JsonSerializerDefaults.Web);

    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/transfers/{transferId:guid}", Transfer).RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapPost("/transfers/{transferId:guid}/{repair}", Repair).RequireAuthorization(ConsoleAuthentication.Operator);
    }

    private static async Task<IResult> Transfer(Guid transferId, HttpContext http, IQuerySession session, IScopedClientFactory clients, IOptions<ApiOptions> options,
        CancellationToken cancellationToken)
    {
        var view = await session.LoadAsync<TransferState>(transferId, cancellationToken);
        if (view?.ToStatus() is not { } transfer || !await Ownership.MaySeeTransfer(http, transfer, clients, options))
        {
            return NotFound(http, transferId);
        }
        var events = await session.Events.FetchStreamAsync(transferId, token: cancellationToken);

        var page = new ConsolePages(http);
        page.Raw("<dl class=\"facts\">")
            .Raw($"<dt>Id</dt><dd class=\"id\">{transfer.TransferId}</dd>")
            .Raw($"<dt>State</dt><dd id=\"state\" class=\"state-{E(transfer.State)}\">{E(transfer.State)}</dd>");
        if (transfer.Reason is not null)
        {
            page.Raw($"<dt>Reason</dt><dd>{E(transfer.Reason)}</dd>");
        }
        page.Raw($"<dt>From</dt><dd>{E(transfer.From.ToString())}</dd><dt>To</dt><dd>{E(transfer.To.ToString())}</dd>")
            .Raw($"<dt>Amount</dt><dd>{Amount(transfer.Amount)} {E(transfer.Currency)}</dd><dt>Check-backs</dt><dd>{transfer.CheckBacks}</dd>")
            .Raw($"<dt>Created</dt><dd>{Time(transfer.CreatedAt)}</dd><dt>Changed</dt><dd>{Time(transfer.UpdatedAt)}</dd></dl>");

        if (Ownership.IsOperator(http) && AllowedRepairs(view) is { Count: > 0 } repairs)
        {
            page.Raw("<h2>Repair</h2>");
            foreach (var repair in repairs)
            {
                var field = $"reason-{repair}";
                page.Form($"{Root}/transfers/{transferId}/{repair}",
                    $"<label for=\"{field}\">Reason to {E(Label(repair).ToLowerInvariant())}<input type=\"text\" id=\"{field}\" name=\"reason\" required maxlength=\"500\"></label>"
                    + $"<button type=\"submit\" name=\"repair\" value=\"{E(repair)}\">{E(Label(repair))}</button>", "repair");
            }
        }

        page.Raw("<h2>Timeline</h2><table id=\"timeline\"><thead><tr><th scope=\"col\" class=\"number\">#</th><th scope=\"col\">Time</th>"
            + "<th scope=\"col\">Event</th><th scope=\"col\">What it says</th></tr></thead><tbody>");
        foreach (var e in events)
        {
            page.Raw($"<tr><td class=\"number\">{e.Version}</td><td>{Time(e.Timestamp)}</td><td>{E(e.Data.GetType().Name)}</td><td>{Describe(e.Data)}</td></tr>");
        }
        page.Raw("</tbody></table>");
        return page.Page($"Transfer {transferId}");
    }

    private static async Task<IResult> Repair(Guid transferId, string repair, HttpContext http, IAntiforgery antiforgery, IOptions<ApiOptions> options)
    {
        if (await Form(http, antiforgery) is not { } form)
        {
            return Forged(http);
        }
        if (!Repairs.All.Contains(repair))
        {
            return Message(http, StatusCodes.Status404NotFound, "No such repair", $"The repairs are: {string.Join(", ", Repairs.All)}.");
        }
        var reason = form["reason"].ToString();
        if (TransferValidation.RepairReason(new RepairRequest(reason)) is not null)
        {
            return Message(http, StatusCodes.Status400BadRequest, "A reason is required", "Give a reason of 1 to 500 characters, without control characters.");
        }
        var answer = await Repairs.Ask(repair, transferId, Http.Caller(http), reason, http, options.Value.RequestTimeout);
        return answer.Outcome switch
        {
            // See the transfer's page: the timeline shows the repair.
            RepairOutcome.Accepted => Results.Redirect($"{Root}/transfers/{transferId}"),
            RepairOutcome.Rejected => Message(http, StatusCodes.Status409Conflict, "The transfer is not in a state that allows this",
                $"{answer.Reason} (state: {answer.State})"),
            RepairOutcome.NoAnswer => Message(http, StatusCodes.Status503ServiceUnavailable, "The coordinator did not answer in time",
                "The repair may or may not have been made: open the transfer again, and repeat it if nothing changed."),
            _ => NotFound(http, transferId),
        };
    }

    /// <summary>
    /// The repairs the coordinator's state machine would accept now: it decides by the same predicates of
    /// <see cref="TransferState"/>, and still decides, so a button that went stale answers 409.
    /// </summary>
    internal static IReadOnlyList<string> AllowedRepairs(TransferState t)
    {
        if (t.CurrentState != TransferStates.NeedsAttention)
        {
            return [];
        }
        var allowed = new List<string>();
        if (t.MayRetryCredit())
        {
            allowed.Add(Repairs.RetryCredit);
        }
        if (t.MayRecheck())
        {
            allowed.Add(Repairs.Recheck);
        }
        if (t.MayRefund())
        {
            allowed.Add(Repairs.Refund);
        }
        if (t.MayResolve())
        {
            allowed.Add(Repairs.Resolve);
        }
        return allowed;
    }

    private static string Label(string repair) => repair switch
    {
        Repairs.RetryCredit => "Retry credit",
        Repairs.Recheck => "Recheck",
        Repairs.Refund => "Refund",
        _ => "Resolve",
    };

    /// <summary>What an event says: its fields, as the events endpoint serializes them.</summary>
    private static string Describe(object data)
    {
        var json = JsonSerializer.SerializeToElement(data, data.GetType(), EventJson);
        if (json.ValueKind != JsonValueKind.Object)
        {
            return E(json.ToString());
        }
        var html = new StringBuilder("<dl class=\"data\">");
        foreach (var property in json.EnumerateObject())
        {
            var value = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Null => "—",
                _ => property.Value.GetRawText(),
            };
            html.Append($"<dt>{E(property.Name)}</dt><dd>{E(value)}</dd>");
        }
        return html.Append("</dl>").ToString();
    }
}
