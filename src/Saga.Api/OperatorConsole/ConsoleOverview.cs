using System.Data.Common;
using System.Globalization;
using Marten;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Contracts;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// The console's first page: transfers by state, the throughput and latency of the last minutes, error queues and
/// check-backs due, and those that need a person. Written whole by the server; assets/overview.js then polls
/// <see cref="Json"/> and updates it in place. Both read <see cref="Overviews"/>, shared by every browser.
/// </summary>
internal static class ConsoleOverview
{
    private const int AttentionShown = 50;
    public const string Json = Root + "/overview.json";

    public static void Map(RouteGroupBuilder console)
    {
        // One per Api instance, made from the host's services: every browser's poll reads its cache.
        var overviews = ActivatorUtilities.CreateInstance<Overviews>(((IEndpointRouteBuilder)console).ServiceProvider);
        console.MapGet("", (HttpContext http, IQuerySession session, CancellationToken cancellationToken) => Overview(http, session, overviews, cancellationToken))
            .RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapGet("/overview.json", (Func<HttpContext, Task<IResult>>)(http => Figures(http, overviews))).RequireAuthorization(ConsoleAuthentication.Viewer);
    }

    /// <summary>Whose transfers the figures count: operators every transfer, anyone else the transfers it asked for.</summary>
    private static string? Initiator(HttpContext http) => Ownership.IsOperator(http) ? null : Http.Caller(http);

    private static async Task<Overview?> Read(Overviews overviews, string? initiator)
    {
        try
        {
            return await overviews.For(initiator);
        }
        catch (Exception e) when (e is DbException or OperationCanceledException or TimeoutException || Http.DatabaseAway(e))
        {
            return null; // the database is away or slow: the page says so, the script tries again
        }
    }

    private static async Task<IResult> Figures(HttpContext http, Overviews overviews)
    {
        http.Response.Headers.CacheControl = "no-store";
        return await Read(overviews, Initiator(http)) is { } overview
            ? Results.Json(overview)
            : Http.Problem(StatusCodes.Status503ServiceUnavailable, "No figures", "The transfer store did not answer; the overview tries again.");
    }

    private static async Task<IResult> Overview(HttpContext http, IQuerySession session, Overviews overviews, CancellationToken cancellationToken)
    {
        var initiator = Initiator(http);
        var overview = await Read(overviews, initiator);
        var page = new ConsolePages(http);
        page.Raw("<form method=\"get\" action=\"" + Root + "/transfers\" class=\"repair\"><label for=\"id\">Transfer id</label>"
            + "<input type=\"text\" id=\"id\" name=\"id\" required minlength=\"32\" maxlength=\"36\" spellcheck=\"false\" autocomplete=\"off\"><button type=\"submit\">Open</button></form>");

        page.Raw($"<section id=\"overview\" data-source=\"{E(Json)}\" data-refresh=\"{(int)Overviews.Refresh.TotalMilliseconds}\" aria-labelledby=\"now\">");
        page.Raw("<div class=\"live-bar\"><h2 id=\"now\">Now</h2>");
        page.Raw($"<p class=\"live\">Figures of <time id=\"figures-at\">{(overview is null ? "—" : Time(overview.At))}</time>"
            + (initiator is null ? "" : ", of your transfers only") + ".</p>");
        // The script shows the switch: without it the page does not change.
        page.Raw("<button type=\"button\" id=\"live-toggle\" aria-pressed=\"false\" hidden>Pause live updates</button></div>");
        if (overview is null)
        {
            page.Raw("<p class=\"message\" role=\"alert\">The transfer store did not answer: the figures will follow.</p>");
        }

        page.Raw("<div class=\"overview-grid\"><div><h3>Transfers by state</h3><table id=\"states\"><thead><tr><th scope=\"col\">State</th><th scope=\"col\" class=\"number\">Transfers</th></tr></thead><tbody>");
        foreach (var state in TransferStates.All)
        {
            var count = overview?.Counts.GetValueOrDefault(state);
            page.Raw($"<tr id=\"state-{E(state)}\"><td class=\"state-{E(state)}\">{E(state)}</td><td class=\"number\">{Number(count)}</td></tr>");
        }
        page.Raw("</tbody></table></div>");

        page.Raw("<div><h3>At a glance</h3><dl class=\"facts figures\">");
        Fact(page, "check-backs-due", "Check-backs due", Number(overview?.CheckBacksDue));
        if (initiator is null)
        {
            var throughput = overview?.Throughput;
            Fact(page, "per-second", $"Ended per second (last {Overviews.WindowSeconds / 60} min)", Decimal(throughput?.PerSecond));
            Fact(page, "p50", "Latency p50 (ms)", Decimal(throughput?.Latency?.P50));
            Fact(page, "p95", "Latency p95 (ms)", Decimal(throughput?.Latency?.P95));
            Fact(page, "p99", "Latency p99 (ms)", Decimal(throughput?.Latency?.P99));
            Fact(page, "error-queues", "Messages in error queues", overview is { ErrorQueues: null } ? "unknown" : Number(overview?.ErrorQueues?.Total));
        }
        page.Raw("</dl>");
        if (initiator is not null)
        {
            page.Raw("<p class=\"note\">Throughput, latency and error queues are the whole system's: operators see them.</p>");
        }
        page.Raw("</div></div>");

        if (initiator is null)
        {
            // The chart is drawn by the script into these; the table below carries the same figures for everyone else.
            page.Raw($"<h3>The last {Overviews.WindowSeconds / 60} minutes, every {Overviews.BucketSeconds} seconds</h3>");
            page.Raw("<div class=\"charts\"><figure class=\"chart\" id=\"chart-rate\" aria-label=\"Transfers ended per second\" role=\"img\"></figure>"
                + "<figure class=\"chart\" id=\"chart-latency\" aria-label=\"Latency p50, p95 and p99 in milliseconds\" role=\"img\"></figure></div>");
            page.Raw("<details><summary>The chart's figures</summary><table id=\"buckets\"><thead><tr><th scope=\"col\">From</th>"
                + "<th scope=\"col\" class=\"number\">Ended</th><th scope=\"col\" class=\"number\">Per second</th><th scope=\"col\" class=\"number\">p50 (ms)</th>"
                + "<th scope=\"col\" class=\"number\">p95 (ms)</th><th scope=\"col\" class=\"number\">p99 (ms)</th></tr></thead><tbody>");
            foreach (var bucket in overview?.Throughput?.Buckets ?? [])
            {
                page.Raw($"<tr><td>{Time(bucket.Start)}</td><td class=\"number\">{bucket.Finished}</td><td class=\"number\">{Decimal(bucket.PerSecond)}</td>"
                    + $"<td class=\"number\">{Decimal(bucket.Latency?.P50)}</td><td class=\"number\">{Decimal(bucket.Latency?.P95)}</td><td class=\"number\">{Decimal(bucket.Latency?.P99)}</td></tr>");
            }
            page.Raw("</tbody></table></details>");
        }
        page.Raw("</section>");

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
        page.Raw($"<script src=\"{Assets}/overview.js\" defer></script>");
        return page.Page("Overview");
    }

    private static void Fact(ConsolePages page, string id, string label, string value) =>
        page.Raw($"<dt>{E(label)}</dt><dd id=\"figure-{E(id)}\" class=\"number\">{value}</dd>");

    private static string Number(long? value) => value is { } v ? E(v.ToString(CultureInfo.InvariantCulture)) : "—";

    private static string Decimal(double? value) => value is { } v ? E(v.ToString("0.##", CultureInfo.InvariantCulture)) : "—";
}
