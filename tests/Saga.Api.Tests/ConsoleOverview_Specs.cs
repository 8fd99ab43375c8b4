using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Saga.Components.Security;
using Saga.Contracts;
using Saga.Testing;
using static Saga.Api.Tests.ApiSystem;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>The console's overview: its figures as JSON, who sees which, and the page updating itself in a real browser.</summary>
public sealed class ConsoleOverview_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private static async Task<JsonElement> Figures(HttpClient browser)
    {
        var response = await browser.GetAsync("/console/overview.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static long Count(JsonElement figures, string state) => figures.GetProperty("counts").GetProperty(state).GetInt64();

    /// <summary>
    /// The figures are computed once per refresh and shared: waits for one that satisfies <paramref name="done"/>. An operator's
    /// must also hold the error queues, which a broker slow to answer leaves unknown (null) for that one refresh. The ceiling is
    /// generous because a slow computation spaces the next refresh ten times as far.
    /// </summary>
    private static Task<JsonElement> UntilFigures(HttpClient browser, Func<JsonElement, bool> done, string what) =>
        Eventually.Until(() => Figures(browser),
            f => done(f) && (!f.GetProperty("systemWide").GetBoolean() || f.GetProperty("errorQueues").ValueKind == JsonValueKind.Object),
            what, TimeSpan.FromSeconds(120), f => f.ToString(), every: TimeSpan.FromMilliseconds(250));

    private async Task<Guid> Submit(HttpClient client, string from, string to, decimal amount)
    {
        var response = await client.SendAsync(ApiSystem.Post("/transfers", Transfer(from, to, amount), "k-" + Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
    }

    [Fact]
    public async Task An_operator_sees_a_completed_transfer_counted_with_the_throughput_latency_and_error_queues_of_the_last_minutes()
    {
        var olga = await SignedIn(api, "olga", Roles.Operator);
        var before = Count(await Figures(olga), TransferStates.Completed);
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var id = await Submit(api.Transfers, alice, bob, 3m);
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);

        var figures = await UntilFigures(olga, f => Count(f, TransferStates.Completed) > before, "the completed transfer was counted");

        Assert.True(figures.GetProperty("systemWide").GetBoolean());
        Assert.Equal(TransferStates.All, figures.GetProperty("counts").EnumerateObject().Select(p => p.Name));
        var throughput = figures.GetProperty("throughput");
        Assert.True(throughput.GetProperty("finished").GetInt64() >= 1);
        Assert.True(throughput.GetProperty("perSecond").GetDouble() > 0);
        Assert.Equal(throughput.GetProperty("windowSeconds").GetInt32() / throughput.GetProperty("bucketSeconds").GetInt32(), throughput.GetProperty("buckets").GetArrayLength());
        Assert.Equal(throughput.GetProperty("finished").GetInt64(), throughput.GetProperty("buckets").EnumerateArray().Sum(b => b.GetProperty("finished").GetInt64()));
        var latency = throughput.GetProperty("latency");
        Assert.True(latency.GetProperty("p50").GetDouble() > 0);
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble());
        // The broker's error queues, read once for the metric and the console alike.
        Assert.True(figures.GetProperty("errorQueues").GetProperty("total").GetInt64() >= 0);
        Assert.True(figures.GetProperty("checkBacksDue").GetInt64() >= 0);
        var page = await Html(olga, "/console");
        Assert.Contains("<dd id=\"figure-error-queues\" class=\"number\">", page);
        Assert.Contains("<table id=\"buckets\">", page);
    }

    [Fact]
    public async Task Anyone_else_sees_only_the_counts_and_check_backs_due_of_its_own_transfers_and_nothing_of_the_system()
    {
        var viewer = "viewer-" + Guid.NewGuid().ToString("N")[..8];
        var alice = await api.OpenAccount("A", "alice", 100m, owner: viewer);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var own = await Submit(Client(api.Api, viewer, Roles.Transfers), alice, bob, 4m);
        var someoneElses = await Submit(api.Transfers, await api.OpenAccount("A", "carol", 100m), bob, 5m);
        await UntilState(api.Transfers, $"/transfers/{someoneElses}", TransferStates.Completed);
        await UntilState(api.Operator, $"/transfers/{own}", TransferStates.Completed);
        var browser = await SignedIn(api, viewer, Roles.Transfers);

        var figures = await UntilFigures(browser, f => Count(f, TransferStates.Completed) == 1, "the viewer's completed transfer was counted");

        Assert.False(figures.GetProperty("systemWide").GetBoolean());
        Assert.Equal(0, TransferStates.All.Where(s => s != TransferStates.Completed).Sum(s => Count(figures, s)));
        Assert.Equal(0, figures.GetProperty("checkBacksDue").GetInt64());
        Assert.Equal(JsonValueKind.Null, figures.GetProperty("throughput").ValueKind);
        Assert.Equal(JsonValueKind.Null, figures.GetProperty("errorQueues").ValueKind);
        var page = await Html(browser, "/console");
        Assert.DoesNotContain("figure-error-queues", page);
        Assert.DoesNotContain("figure-p99", page);
    }

    [Fact]
    public async Task A_transfer_whose_check_back_is_due_is_counted_while_the_coordinator_does_not_act()
    {
        var viewer = "waiter-" + Guid.NewGuid().ToString("N")[..8];
        var alice = await api.OpenAccount("A", "alice", 100m, owner: viewer);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var client = Client(api.Api, viewer, Roles.Transfers);
        var browser = await SignedIn(api, viewer, Roles.Transfers);
        // The producer does not commit and the coordinator, once the half message is stored, does not check back.
        await SagaSystem.Freeze(api.System.LedgerA);
        try
        {
            var id = await Submit(client, alice, bob, 6m);
            await UntilState(client, $"/transfers/{id}", TransferStates.Prepared);
            await SagaSystem.Freeze(api.System.Coordinator);
            try
            {
                var figures = await UntilFigures(browser, f => f.GetProperty("checkBacksDue").GetInt64() == 1, "the check-back fell due");
                Assert.Equal(1, Count(figures, TransferStates.Prepared));
            }
            finally
            {
                await SagaSystem.Thaw(api.System.Coordinator);
            }
        }
        finally
        {
            await SagaSystem.Thaw(api.System.LedgerA);
        }
    }

    [Fact]
    public async Task In_a_real_browser_the_overview_counts_a_transfer_completed_after_it_loaded_without_reloading_and_with_no_console_warnings()
    {
        await using var web = OnKestrel(api);
        var site = Site(web);
        using var browser = Chromium();
        browser.Navigate().GoToUrl($"{site}/console");
        browser.FindElement(By.Id("token")).SendKeys(DevelopmentTokens.Create("olga", [Roles.Operator], TimeSpan.FromMinutes(30)));
        Leaving(browser, () => browser.FindElement(By.CssSelector("button[type=submit]")).Click());
        Assert.Equal("Overview", browser.FindElement(By.TagName("h1")).Text);
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(120));
        wait.Until(b => b.FindElement(By.Id("overview")).GetAttribute("data-live") == "on");
        var shown = browser.FindElement(By.CssSelector("#state-Completed td.number")).Text;
        // A reload would make a new window object and lose this.
        ((IJavaScriptExecutor)browser).ExecuteScript("window.sagaSpecMarker = 'loaded once';");

        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var id = await Submit(api.Transfers, alice, bob, 2m);
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);

        wait.Until(b => b.FindElement(By.CssSelector("#state-Completed td.number")).Text != shown);
        Assert.True(long.Parse(browser.FindElement(By.CssSelector("#state-Completed td.number")).Text) > long.Parse(shown));
        Assert.Equal("loaded once", ((IJavaScriptExecutor)browser).ExecuteScript("return window.sagaSpecMarker;"));
        // The charts were drawn: SVG from the script, as the CSP allows.
        Assert.NotEmpty(browser.FindElements(By.CssSelector("#chart-rate svg rect")));
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots, "overview-live.png"));
        Assert.Empty(browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message));
    }
}
