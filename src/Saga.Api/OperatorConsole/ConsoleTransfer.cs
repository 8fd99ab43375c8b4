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

/// <summary>
/// One transfer: its facts, the balances of its two accounts, its whole stream as a timeline a person reads,
/// and the repairs an operator may make, each confirmed in money terms before it is asked of the coordinator.
/// </summary>
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
        var balances = await Task.WhenAll(Balance(http, transfer.From, clients, options.Value), Balance(http, transfer.To, clients, options.Value));

        var page = new ConsolePages(http);
        page.Raw("<dl class=\"facts\">")
            .Raw($"<dt>Id</dt><dd class=\"id\">{transfer.TransferId}</dd>")
            .Raw($"<dt>State</dt><dd id=\"state\" class=\"state-{E(transfer.State)}\">{E(transfer.State)}</dd>");
        if (transfer.Reason is not null)
        {
            page.Raw($"<dt>Reason</dt><dd>{E(transfer.Reason)}</dd>");
        }
        page.Raw($"<dt>From</dt><dd>{AccountLink(transfer.From)}</dd><dt>To</dt><dd>{AccountLink(transfer.To)}</dd>")
            .Raw($"<dt>Amount</dt><dd>{Amount(transfer.Amount)} {E(transfer.Currency)}</dd><dt>Check-backs</dt><dd>{transfer.CheckBacks}</dd>")
            .Raw($"<dt>Created</dt><dd>{Time(transfer.CreatedAt)}</dd><dt>Changed</dt><dd>{Time(transfer.UpdatedAt)}</dd></dl>");

        page.Raw("<h2>Balances now</h2><table id=\"balances\" class=\"balances\"><thead><tr><th scope=\"col\">Account</th><th scope=\"col\">In this transfer</th>"
            + "<th scope=\"col\" class=\"number\">Balance</th></tr></thead><tbody>");
        foreach (var (side, account, balance) in new[] { ("from", transfer.From, balances[0]), ("to", transfer.To, balances[1]) })
        {
            page.Raw($"<tr id=\"balance-{side}\"><th scope=\"row\">{AccountLink(account)}</th><td>{(side == "from" ? "source, pays" : "destination, receives")} "
                + $"{Amount(transfer.Amount)} {E(transfer.Currency)}</td>{balance}</tr>");
        }
        page.Raw("</tbody></table>");

        if (Ownership.IsOperator(http) && AllowedRepairs(view) is { Count: > 0 } repairs)
        {
            page.Raw("<h2>Repair</h2><p class=\"hint\">Each repair asks for a reason, then shows what it will do before anything changes.</p>");
            foreach (var repair in repairs)
            {
                var field = $"reason-{repair}";
                page.Form($"{Root}/transfers/{transferId}/{repair}",
                    $"<label for=\"{field}\">Reason to {E(Label(repair).ToLowerInvariant())}<input type=\"text\" id=\"{field}\" name=\"reason\" required maxlength=\"500\"></label>"
                    + $"<button type=\"submit\" name=\"repair\" value=\"{E(repair)}\">{E(Label(repair))}…</button>", "repair");
            }
        }

        page.Raw("<h2>Timeline</h2><table id=\"timeline\"><thead><tr><th scope=\"col\" class=\"number\">#</th><th scope=\"col\">Time</th>"
            + "<th scope=\"col\">Event</th><th scope=\"col\">What happened</th></tr></thead><tbody>");
        // The transfer as it stood after each event: the attempt numbers and ledgers a sentence names are the state machine's own.
        var replay = new TransferState { CorrelationId = transferId };
        foreach (var e in events)
        {
            replay.Apply(e.Data);
            var (what, kind) = Happened(e.Data, replay);
            page.Raw($"<tr><td class=\"number\">{e.Version}</td><td>{Time(e.Timestamp)}</td><td>{E(e.Data.GetType().Name)}</td>"
                + $"<td class=\"what{kind}\"><span class=\"sentence\">{what}</span><details><summary>Fields</summary>{Describe(e.Data)}</details></td></tr>");
        }
        page.Raw("</tbody></table>");
        return page.Page($"Transfer {transferId}");
    }

    private static async Task<IResult> Repair(Guid transferId, string repair, HttpContext http, IAntiforgery antiforgery, IQuerySession session,
        IOptions<ApiOptions> options)
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
        if (form["confirmed"] != "yes")
        {
            // Nothing is asked yet: the operator sees what the repair will do, and confirms or cancels.
            var view = await session.LoadAsync<TransferState>(transferId, http.RequestAborted);
            if (view is null)
            {
                return NotFound(http, transferId);
            }
            if (!AllowedRepairs(view).Contains(repair))
            {
                return Message(http, StatusCodes.Status409Conflict, "The transfer is not in a state that allows this",
                    $"The transfer is {view.CurrentState} now: open it again to see what it allows.");
            }
            return Confirmation(http, view, repair, reason);
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

    /// <summary>What the repair will do, in money terms, with the reason; its Confirm button posts the same form with confirmed=yes.</summary>
    private static IResult Confirmation(HttpContext http, TransferState t, string repair, string reason)
    {
        var transferPage = $"{Root}/transfers/{t.CorrelationId}";
        return new ConsolePages(http)
            .Raw($"<p id=\"consequence\" class=\"consequence\">{E(Consequence(repair, t))}</p>")
            .Raw($"<dl class=\"facts\"><dt>Transfer</dt><dd><a class=\"id\" href=\"{transferPage}\">{t.CorrelationId}</a></dd>")
            .Raw($"<dt>State</dt><dd class=\"state-{E(t.CurrentState)}\">{E(t.CurrentState)}</dd><dt>Reason</dt><dd id=\"reason\">{E(reason)}</dd></dl>")
            .Form($"{transferPage}/{repair}",
                $"<input type=\"hidden\" name=\"reason\" value=\"{E(reason)}\"><input type=\"hidden\" name=\"confirmed\" value=\"yes\">"
                + $"<button type=\"submit\" id=\"confirm\" autofocus>Confirm: {E(Label(repair).ToLowerInvariant())}</button>"
                + $"<a id=\"cancel\" href=\"{transferPage}\">Cancel</a>", "confirm")
            .Page($"{Label(repair)} this transfer?");
    }

    /// <summary>The repair in money terms, as the state machine will carry it out from <paramref name="t"/>.</summary>
    internal static string Consequence(string repair, TransferState t)
    {
        var money = $"{Amount(t.Amount)} {t.Currency}";
        return repair switch
        {
            Repairs.RetryCredit => $"Retry credit: send the credit of {money} to {t.To} again.",
            Repairs.Recheck => $"Recheck: ask {t.FromLedger} again whether it debited {money} from {t.From}.",
            Repairs.Refund when t.CreditVoided => $"Refund {money} to {t.From}: the credit at {t.ToLedger} is void already, so {t.FromLedger} is credited.",
            Repairs.Refund => $"Refund {money} to {t.From}: the credit at {t.ToLedger} is voided first, then {t.FromLedger} is credited.",
            _ when t.DebitCommitted && !t.CreditVoided && !t.CreditApplied =>
                $"Resolve: the credit to {t.To} is voided first, then the transfer is closed; no money moves, and the {money} debited from {t.From} is not paid back.",
            _ when t.CreditApplied => $"Resolve: close the transfer; no money moves ({money} was debited from {t.From} and credited to {t.To}).",
            _ when t.RefundApplied => $"Resolve: close the transfer; no money moves (the {money} was refunded to {t.From}).",
            _ when t.DebitCommitted => $"Resolve: close the transfer; no money moves, and the {money} debited from {t.From} is not paid back.",
            _ => $"Resolve: close the transfer; no money moves ({t.FromLedger} has not said it debited {t.From}).",
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

    private static string AccountLink(AccountRef account) =>
        $"<a href=\"{E(ConsoleAccounts.PathOf(account.Ledger, account.AccountId))}\">{E(account.ToString())}</a>";

    /// <summary>
    /// The account's balance cell, asked of its ledger as the accounts endpoint does: only an operator or the
    /// account's owner sees it, and anyone else is told what they would be told of an account that does not exist.
    /// </summary>
    private static async Task<string> Balance(HttpContext http, AccountRef account, IScopedClientFactory clients, ApiOptions options)
    {
        const string missing = "<td class=\"number balance missing\">";
        if (!options.KnownLedgers.Contains(account.Ledger))
        {
            return $"{missing}not a ledger of this system</td>";
        }
        AccountBalance? balance;
        try
        {
            balance = await AccountEndpoints.AskBalance(account.Ledger, account.AccountId, clients, options.RequestTimeout, http.RequestAborted);
        }
        catch (RequestTimeoutException)
        {
            return $"{missing}ledger did not answer</td>";
        }
        if (balance is not null && Ownership.MaySeeAccount(http, balance.Owner))
        {
            return $"<td class=\"number balance\">{Amount(balance.Balance)}</td>";
        }
        return Ownership.IsOperator(http) ? $"{missing}no such account</td>" : $"{missing}no account you may see</td>";
    }

    /// <summary>
    /// What <paramref name="data"/> says, as a sentence, and the row's kind (fault, operator, done, quiet) so what
    /// needs a person stands out; <paramref name="t"/> is the transfer just after it.
    /// </summary>
    private static (string Html, string Kind) Happened(object data, TransferState t)
    {
        var money = $"{Amount(t.Amount)} {E(t.Currency)}";
        return data switch
        {
            HalfMessageStored h => ($"Half message held: {money} from {Account(t.From)} to {Account(t.To)}"
                + (h.Initiator is { } initiator ? $", asked by {Who(initiator)}" : "") + $"; {E(h.FromLedger)} asked to debit", ""),
            TransferCommitted c => ($"Debit committed at {E(t.FromLedger)} " + c.Source switch
            {
                "commit" => $"({E(t.FromLedger)} said so)",
                "check-back" => "(its answer to a check-back)",
                "credit" => $"(proved by the credit at {E(t.ToLedger)})",
                var other => $"({E(other)})",
            }, ""),
            TransferRolledBack r => ($"Rolled back at {E(t.FromLedger)}: {Why(r.Reason)}" + (r.Source == "check-back" ? " (its answer to a check-back)" : ""), " fault"),
            CheckBackSent s => ($"Check-back {s.Attempt} asked {E(t.FromLedger)}", ""),
            CheckBackAnswered a => ($"{E(t.FromLedger)} answered check-back {a.Attempt}: <strong>{E(a.Outcome)}</strong>"
                + (a.Reason is { } reason ? $", {Why(reason)}" : ""), ""),
            CreditRequested c when c.Purpose == nameof(CreditPurpose.Refund) =>
                ($"Refund of {Amount(c.Amount)} {E(t.Currency)} sent to {Account(new(c.Ledger, c.Account))} {Attempt(t.CreditSends)}", ""),
            CreditRequested c => ($"Credit of {Amount(c.Amount)} {E(t.Currency)} sent to {Account(new(c.Ledger, c.Account))} {Attempt(t.CreditSends)}", ""),
            CreditConfirmed c => ((c.Purpose == nameof(CreditPurpose.Refund) ? $"Refund applied at {Account(t.From)}" : $"Credit applied at {Account(t.To)}")
                + (c.Retries > 0 ? $" after <span class=\"attempt\">{c.Retries} {(c.Retries == 1 ? "retry" : "retries")}</span>" : ""), " done"),
            CreditFailed f => ((f.Purpose == nameof(CreditPurpose.Refund) ? $"Refund failed at {E(t.FromLedger)}" : $"Credit failed at {E(t.ToLedger)}")
                + $": {Why(f.Reason)}", " fault"),
            TransferNeedsAttention n => ($"Needs attention: {Why(n.Reason)}", " fault"),
            CreditRetryRequested r => ($"Credit retry requested by {Who(r.Operator)}: {Why(r.Reason)}", " operator"),
            RecheckRequested r => ($"Recheck requested by {Who(r.Operator)}: {Why(r.Reason)}; check-backs up to {r.CheckBackLimit}", " operator"),
            RefundRequested r => ($"Refund requested by {Who(r.Operator)}: {Why(r.Reason)}", " operator"),
            ResolveRequested r => ($"Resolve requested by {Who(r.Operator)}: {Why(r.Reason)}", " operator"),
            VoidRequested v => ($"Void of the credit to {Account(new(v.Ledger, v.Account))} asked of {E(v.Ledger)} {Attempt(t.CreditSends)}", ""),
            CreditVoidConfirmed v => ($"{E(v.Ledger)} voided the credit to {Account(new(v.Ledger, v.Account))}: it can never be applied", ""),
            CreditCopyRefused v => ($"A late copy of the credit was refused at {Account(new(v.Ledger, v.Account))}: no money moved", ""),
            TransferResolved r => ($"Resolved by {Who(r.Operator)}: {Why(r.Reason)}", " operator"),
            MessageIgnored m => ($"{E(m.Message)} ignored: {E(m.Detail)}", " quiet"),
            MessageRefused m => ($"Message refused from {Who(m.Sender)}: {Why(m.Reason)} <span class=\"quiet\">({E(m.Message)})</span>", " fault"),
            _ => (E(data.GetType().Name), ""),
        };

        static string Account(AccountRef account) => $"<span class=\"account\">{E(account.ToString())}</span>";
        static string Who(string who) => $"<strong class=\"who\">{E(who)}</strong>";
        static string Why(string reason) => $"<q class=\"reason\">{E(reason)}</q>";
        static string Attempt(int attempt) => $"<span class=\"attempt\">(attempt {attempt})</span>";
    }

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
