using System.Globalization;
using System.Text;
using Marten;
using Microsoft.Extensions.Options;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Ledgers;
using Saga.Contracts;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// Finding transfers: the list, filtered by state and change time and paged by cursor (newest change first;
/// with no state chosen, those that need attention come first), a transfer by id, an account's page.
/// Operators see every transfer, anyone else the transfers it asked for, as in the JSON listing.
/// </summary>
internal static class ConsoleTransferList
{
    public const int DefaultTake = 50;
    public const int MaxTake = 200;

    /// <summary>The "changed within" presets: the query's value, what the form says, how far back.</summary>
    private static readonly (string Value, string Label, TimeSpan Span)[] Presets =
    [
        ("15m", "the last 15 minutes", TimeSpan.FromMinutes(15)),
        ("1h", "the last hour", TimeSpan.FromHours(1)),
        ("24h", "the last 24 hours", TimeSpan.FromHours(24)),
        ("7d", "the last 7 days", TimeSpan.FromDays(7)),
    ];

    private static readonly string[] Parameters = ["id", "ledger", "account", "state", "within", "from", "to", "take", "after", "part"];

    /// <summary>The part of the unfiltered list a cursor is in: those that need attention come before the rest.</summary>
    private const string Rest = "rest";

    public static void Map(RouteGroupBuilder console) =>
        console.MapGet("/transfers", List).RequireAuthorization(ConsoleAuthentication.Viewer);

    /// <summary>What the list's query asks for, read whole: each field is empty or valid.</summary>
    private sealed record Filter(string? State, string? Within, DateTimeOffset? From, DateTimeOffset? To, int Take, TransferPosition? After, bool InRest)
    {
        public DateTimeOffset? ChangedFrom(DateTimeOffset now) =>
            Within is { } within ? now - Presets.Single(p => p.Value == within).Span : From;

        /// <summary>This filter's query string, with the cursor given (or none: the newest page).</summary>
        public string Query(string? after = null, bool inRest = false)
        {
            var fields = new List<(string, string)>();
            if (State is { } state) { fields.Add(("state", state)); }
            if (Within is { } within) { fields.Add(("within", within)); }
            if (From is { } from) { fields.Add(("from", LocalInput(from))); }
            if (To is { } to) { fields.Add(("to", LocalInput(to))); }
            if (Take != DefaultTake) { fields.Add(("take", Take.ToString(CultureInfo.InvariantCulture))); }
            if (after is not null) { fields.Add(("after", after)); }
            if (inRest) { fields.Add(("part", Rest)); }
            return fields.Count == 0 ? "" : "?" + string.Join("&", fields.Select(f => $"{f.Item1}={Uri.EscapeDataString(f.Item2)}"));
        }
    }

    private static async Task<IResult> List(HttpContext http, IQuerySession session, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        var query = http.Request.Query;
        var (problems, single) = Read(query);
        if (problems.Count > 0)
        {
            return Refused(http, problems);
        }
        if (single("id") is { } id)
        {
            return Guid.TryParse(id, out var transferId)
                ? Results.Redirect($"{Root}/transfers/{transferId}")
                : Message(http, StatusCodes.Status400BadRequest, "Not a transfer id", "A transfer id looks like 3f2504e0-4f89-11d3-9a0c-0305e82c3301.");
        }
        if (single("ledger") is not null || single("account") is not null)
        {
            return Account(http, single("ledger"), single("account"), options.Value);
        }
        if (Parse(single, problems) is not { } filter)
        {
            return Refused(http, problems);
        }

        var initiator = Ownership.IsOperator(http) ? null : Http.Caller(http);
        var now = DateTimeOffset.UtcNow;
        var changed = new TransferFilter(Initiator: initiator, ChangedFrom: filter.ChangedFrom(now), ChangedBefore: filter.To);
        // One more than shown: whether there is an older page is known without asking for it.
        var wanted = filter.Take + 1;
        List<(TransferStatus Transfer, bool InRest)> rows;
        if (filter.State is { } state)
        {
            rows = [.. (await TransferViews.Page(session, changed with { State = state }, filter.After, wanted, cancellationToken)).Select(t => (t, false))];
        }
        else
        {
            rows = [];
            if (!filter.InRest)
            {
                var attention = await TransferViews.Page(session, changed with { State = TransferStates.NeedsAttention }, filter.After, wanted, cancellationToken);
                rows.AddRange(attention.Select(t => (t, false)));
            }
            if (rows.Count < wanted)
            {
                var rest = await TransferViews.Page(session, changed with { NotInState = TransferStates.NeedsAttention }, filter.InRest ? filter.After : null,
                    wanted - rows.Count, cancellationToken);
                rows.AddRange(rest.Select(t => (t, true)));
            }
        }
        var older = rows.Count > filter.Take;
        if (older)
        {
            rows.RemoveRange(filter.Take, rows.Count - filter.Take);
        }

        var page = new ConsolePages(http);
        page.Raw(Finders(filter, options.Value));
        page.Raw($"<p class=\"summary\" id=\"summary\">{Summary(filter, rows.Count, older)}</p>");
        if (rows.Count > 0)
        {
            page.Raw(Table(rows.Select(r => r.Transfer)));
        }
        page.Raw("<nav class=\"pager\" aria-label=\"Pages\">");
        if (filter.After is not null)
        {
            page.Raw($"<a id=\"newest\" href=\"{E(Root + "/transfers" + filter.Query())}\">← Newest</a>");
        }
        if (older)
        {
            var (last, inRest) = rows[^1];
            var cursor = TransferCursor.At(new TransferPosition(last.UpdatedAt, last.TransferId));
            page.Raw($"<a id=\"older\" rel=\"next\" href=\"{E(Root + "/transfers" + filter.Query(cursor, inRest))}\">Older →</a>");
        }
        page.Raw("</nav>");
        return page.Page("Transfers");
    }

    /// <summary>Each parameter this page knows, at most once; an empty one (as an empty form field sends it) counts as absent.</summary>
    private static (Dictionary<string, string> Problems, Func<string, string?> Single) Read(IQueryCollection query)
    {
        var problems = new Dictionary<string, string>();
        foreach (var (name, values) in query)
        {
            if (!Parameters.Contains(name, StringComparer.Ordinal))
            {
                problems[name] = $"is not a field of this page; it knows {string.Join(", ", Parameters)}";
            }
            else if (values.Count > 1)
            {
                problems[name] = "may be given once";
            }
        }
        return (problems, name => query.TryGetValue(name, out var values) && values.Count == 1 && values[0]?.Trim() is { Length: > 0 } value ? value : null);
    }

    private static Filter? Parse(Func<string, string?> single, Dictionary<string, string> problems)
    {
        var state = single("state");
        if (state is not null && !TransferStates.All.Contains(state))
        {
            problems["state"] = $"is one of {string.Join(", ", TransferStates.All)}, or empty for all";
        }
        var within = single("within");
        if (within is not null && !Presets.Any(p => p.Value == within))
        {
            problems["within"] = $"is one of {string.Join(", ", Presets.Select(p => p.Value))}, or empty";
        }
        var from = Instant(single, "from", problems);
        var to = Instant(single, "to", problems);
        if (within is not null && from is not null)
        {
            problems["within"] = "and from both set where the list starts: give one of them";
        }
        if (from is { } f && to is { } t && f >= t)
        {
            problems["to"] = "must be later than from";
        }
        var take = DefaultTake;
        if (single("take") is { } text && !(int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out take) && take is >= 1 and <= MaxTake))
        {
            problems["take"] = $"is a whole number from 1 to {MaxTake}";
        }
        TransferPosition? after = null;
        if (single("after") is { } cursor && (after = TransferCursor.Parse(cursor)) is null)
        {
            problems["after"] = "is not a cursor this console wrote: start again from the newest page";
        }
        var part = single("part");
        if (part is not null && (part != Rest || after is null || state is not null))
        {
            problems["part"] = $"is '{Rest}' or empty, and only with the cursor of a list of every state";
        }
        return problems.Count > 0 ? null : new Filter(state, within, from, to, take, after, part == Rest);
    }

    /// <summary>A datetime-local field's value, read as UTC (seconds optional).</summary>
    private static DateTimeOffset? Instant(Func<string, string?> single, string name, Dictionary<string, string> problems)
    {
        if (single(name) is not { } text)
        {
            return null;
        }
        if (DateTime.TryParseExact(text, ["yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF"], CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
        {
            return new DateTimeOffset(time, TimeSpan.Zero);
        }
        problems[name] = "is a date and time in UTC, like 2026-12-03T14:30";
        return null;
    }

    private static string LocalInput(DateTimeOffset time) =>
        time.UtcDateTime.ToString(time.Second == 0 && time.Millisecond == 0 ? "yyyy-MM-ddTHH:mm" : "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>An account's transfers are on its page: the ledger and id, checked, go there.</summary>
    private static IResult Account(HttpContext http, string? ledger, string? account, ApiOptions options)
    {
        var problems = new Dictionary<string, string>();
        if (AccountIds.Error(ledger, "ledger") is { } ledgerError)
        {
            problems["ledger"] = ledgerError;
        }
        else if (!options.KnownLedgers.Contains(ledger))
        {
            problems["ledger"] = $"'{ledger}' is not one of the ledgers: {string.Join(", ", options.KnownLedgers)}";
        }
        if (AccountIds.Error(account, "account") is { } accountError)
        {
            problems["account"] = accountError;
        }
        return problems.Count > 0 ? Refused(http, problems) : Results.Redirect(AccountPath(new AccountRef(ledger!, account!)));
    }

    private static string AccountPath(AccountRef account) =>
        ConsoleAccounts.PathOf(account.Ledger, account.AccountId);

    /// <summary>A 400 page naming each field that was not understood; nothing was looked up.</summary>
    private static IResult Refused(HttpContext http, Dictionary<string, string> problems)
    {
        var page = new ConsolePages(http).Raw("<div class=\"message\" role=\"alert\"><p>The list was not shown: these fields were not understood.</p><ul id=\"problems\">");
        foreach (var (field, problem) in problems)
        {
            page.Raw($"<li><code>{E(field)}</code> {E(problem)}</li>");
        }
        return page.Raw($"</ul></div><p><a href=\"{Root}/transfers\">All transfers, newest first</a></p>")
            .Page("Transfers: a filter was not understood", StatusCodes.Status400BadRequest);
    }

    private static string Finders(Filter filter, ApiOptions options)
    {
        var html = new StringBuilder();
        html.Append($"<div class=\"finders\"><form method=\"get\" action=\"{Root}/transfers\" class=\"filters\" id=\"filters\" aria-label=\"Filter the list\">")
            .Append("<span class=\"field\"><label for=\"state\">State</label><select id=\"state\" name=\"state\"><option value=\"\">Every state, needing attention first</option>");
        foreach (var state in TransferStates.All)
        {
            html.Append($"<option value=\"{E(state)}\"{(state == filter.State ? " selected" : "")}>{E(state)}</option>");
        }
        html.Append("</select></span><span class=\"field\"><label for=\"within\">Changed within</label><select id=\"within\" name=\"within\"><option value=\"\">any time</option>");
        foreach (var (value, label, _) in Presets)
        {
            html.Append($"<option value=\"{E(value)}\"{(value == filter.Within ? " selected" : "")}>{E(label)}</option>");
        }
        html.Append("</select></span>")
            .Append($"<span class=\"field\"><label for=\"from\">or changed from (UTC)</label><input type=\"datetime-local\" id=\"from\" name=\"from\" step=\"1\" value=\"{(filter.From is { } f ? E(LocalInput(f)) : "")}\"></span>")
            .Append($"<span class=\"field\"><label for=\"to\">until before (UTC)</label><input type=\"datetime-local\" id=\"to\" name=\"to\" step=\"1\" value=\"{(filter.To is { } t ? E(LocalInput(t)) : "")}\"></span>")
            .Append($"<span class=\"field\"><label for=\"take\">Per page</label><input type=\"number\" id=\"take\" name=\"take\" min=\"1\" max=\"{MaxTake}\" value=\"{filter.Take}\"></span>")
            .Append($"<button type=\"submit\">Show</button><a href=\"{Root}/transfers\">Clear</a></form>");

        html.Append($"<form method=\"get\" action=\"{Root}/transfers\" class=\"filters\" role=\"search\" aria-label=\"Find a transfer by id\">")
            .Append("<label for=\"id\">Transfer id</label><input type=\"text\" id=\"id\" name=\"id\" required minlength=\"32\" maxlength=\"38\" spellcheck=\"false\" autocomplete=\"off\">")
            .Append("<button type=\"submit\">Open</button></form>");

        html.Append($"<form method=\"get\" action=\"{Root}/transfers\" class=\"filters\" role=\"search\" aria-label=\"An account's transfers\">")
            .Append("<label for=\"ledger\">Ledger</label><select id=\"ledger\" name=\"ledger\">");
        foreach (var ledger in options.KnownLedgers)
        {
            html.Append($"<option value=\"{E(ledger)}\">{E(ledger)}</option>");
        }
        html.Append("</select><label for=\"account\">Account id</label>")
            .Append($"<input type=\"text\" id=\"account\" name=\"account\" required maxlength=\"{AccountIds.MaxLength}\" spellcheck=\"false\" autocomplete=\"off\">")
            .Append("<button type=\"submit\">Account's transfers</button></form></div>");
        return html.ToString();
    }

    private static string Summary(Filter filter, int shown, bool older)
    {
        var what = filter.State is { } state ? $"{E(state)} transfers" : "Transfers needing attention first, then every other";
        var where = filter.After is null ? "newest change first" : "older changes";
        return shown == 0
            ? (filter.After is null ? "No transfer matches." : "No older transfer matches.")
            : $"{what}, {where}: {shown} shown{(older ? ", more are older" : "")}.";
    }

    private static string Table(IEnumerable<TransferStatus> transfers)
    {
        var html = new StringBuilder("<div class=\"table-scroll\" role=\"region\" aria-labelledby=\"summary\" tabindex=\"0\"><table id=\"transfers\"><thead><tr>")
            .Append("<th scope=\"col\">Transfer</th><th scope=\"col\">State</th><th scope=\"col\">Reason</th><th scope=\"col\">From</th><th scope=\"col\">To</th>")
            .Append("<th scope=\"col\" class=\"number\">Amount</th><th scope=\"col\">Changed</th></tr></thead><tbody>");
        foreach (var t in transfers)
        {
            html.Append($"<tr class=\"transfer\"><td><a class=\"id\" href=\"{Root}/transfers/{t.TransferId}\">{t.TransferId}</a></td>")
                .Append($"<td class=\"state-{E(t.State)}\">{E(t.State)}</td><td class=\"reason\">{E(t.Reason)}</td>")
                .Append($"<td>{AccountLink(t.From)}</td><td>{AccountLink(t.To)}</td>")
                .Append($"<td class=\"number\">{Amount(t.Amount)}&nbsp;{E(t.Currency)}</td><td class=\"changed\">{Time(t.UpdatedAt)}</td></tr>");
        }
        return html.Append("</tbody></table></div>").ToString();
    }

    private static string AccountLink(AccountRef account) => $"<a class=\"id\" href=\"{E(AccountPath(account))}\">{E(account.ToString())}</a>";
}
