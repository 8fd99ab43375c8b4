using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using JasperFx;
using Marten;
using Npgsql;
using OpenQA.Selenium;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Security;
using Saga.Components.Transfers;
using Saga.Contracts;
using Saga.Testing;
using static Saga.Api.Tests.ApiSystem;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>
/// The console's list at /console/transfers, and the JSON listing's cursor beneath both. Most specs store
/// transfer views straight into the coordinator's store, at times of their own in the past and with an
/// initiator of their own, so that each sees only its transfers however many others there are.
/// </summary>
public sealed partial class ConsoleTransferList_Specs(ApiSystem api) : IClassFixture<ApiSystem>, IAsyncLifetime
{
    private IDocumentStore _store = null!;

    public Task InitializeAsync()
    {
        var connection = new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Database = api.System.Name }.ConnectionString;
        _store = DocumentStore.For(o =>
        {
            TransferEventStore.Configure(o, connection);
            // The coordinator made the tables; the specs only write rows.
            o.AutoCreateSchemaObjects = AutoCreate.None;
        });
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _store.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_JSON_listing_pages_through_transfers_that_changed_in_the_same_instant_each_once_and_still_reads_a_cursor_of_a_time_alone()
    {
        var caller = Someone("tied");
        var at = SomeTimeAgo();
        var tied = await Stored(caller, [.. Enumerable.Repeat((TransferStates.Completed, at, (string?)null), 5)]);
        var older = await Stored(caller, (TransferStates.Completed, at.AddSeconds(-1), null));
        var client = Client(api.Api, caller, Roles.Transfers);

        var seen = new List<Guid>();
        string? next = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>("/transfers?state=Completed&limit=2" + (next is null ? "" : "&after=" + Uri.EscapeDataString(next)));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("transferId").GetGuid()));
            next = page.GetProperty("next").GetString();
        }
        while (next is not null && seen.Count < 20);

        // Ties in PostgreSQL's order of uuids: their text's.
        Assert.Equal([.. tied.OrderByDescending(id => id.ToString()), .. older], seen);
        var beforeTheTie = await client.GetFromJsonAsync<JsonElement>($"/transfers?state=Completed&after={Uri.EscapeDataString(TransferCursor.At(at))}");
        Assert.Equal(older, beforeTheTie.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("transferId").GetGuid()));
    }

    [Fact]
    public async Task A_state_filter_shows_only_that_state_paged_newest_first_through_more_than_a_page_and_back_to_the_newest()
    {
        var viewer = Someone("pager");
        var at = SomeTimeAgo();
        // Seven completed, three of them changed in one instant, and a rolled-back one among them.
        var completed = await Stored(viewer,
            (TransferStates.Completed, at, null), (TransferStates.Completed, at.AddSeconds(-1), null), (TransferStates.Completed, at.AddSeconds(-1), null),
            (TransferStates.Completed, at.AddSeconds(-1), null), (TransferStates.Completed, at.AddSeconds(-2), null), (TransferStates.Completed, at.AddSeconds(-3), null),
            (TransferStates.Completed, at.AddSeconds(-4), null));
        await Stored(viewer, (TransferStates.RolledBack, at.AddSeconds(-1), "the debit was refused"));
        var browser = await SignedIn(api, viewer, Roles.Transfers);

        var pages = new List<string>();
        var path = "/console/transfers?state=Completed&take=3";
        while (pages.Count < 5)
        {
            var html = await Html(browser, path);
            pages.Add(html);
            if (Older().Match(html) is not { Success: true } older)
            {
                break;
            }
            path = WebUtility.HtmlDecode(older.Groups["href"].Value);
        }

        var expected = completed.Take(1).Concat(completed.Skip(1).Take(3).OrderByDescending(id => id.ToString())).Concat(completed.Skip(4)).ToArray();
        Guid[][] paged = [expected[..3], expected[3..6], expected[6..]];
        Assert.Equal(paged, pages.Select(Ids));
        Assert.All(pages, page => Assert.DoesNotContain("class=\"state-RolledBack\"", page));
        Assert.DoesNotContain("id=\"newest\"", pages[0]);
        var newest = Regex.Match(pages[2], "<a id=\"newest\" href=\"(?<href>[^\"]+)\"").Groups["href"].Value;
        Assert.Equal("/console/transfers?state=Completed&amp;take=3", newest);
    }

    [Fact]
    public async Task With_no_state_chosen_the_transfers_that_need_attention_come_first_with_their_reason_then_the_rest_newest_first()
    {
        var viewer = Someone("attention");
        var alice = await api.OpenAccount("A", "alice", 100m, owner: viewer);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var client = Client(api.Api, viewer, Roles.Transfers);
        async Task<Guid> Submit(string to, string state)
        {
            var response = await client.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, to, 5m), "k-" + Guid.NewGuid()));
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
            await UntilState(client, $"/transfers/{id}", state);
            return id;
        }
        var stuck = await Submit("ghost-" + Guid.NewGuid().ToString("N")[..6], TransferStates.NeedsAttention);
        var completed = await Submit(bob, TransferStates.Completed);
        var reason = (await client.GetFromJsonAsync<JsonElement>($"/transfers/{stuck}")).GetProperty("reason").GetString();
        var browser = await SignedIn(api, viewer, Roles.Transfers);

        var html = await Html(browser, "/console/transfers");

        Assert.Equal([stuck, completed], Ids(html));
        var shown = Regex.Match(html, "<td class=\"state-NeedsAttention\">NeedsAttention</td><td class=\"reason\">(?<reason>[^<]*)</td>").Groups["reason"].Value;
        Assert.Equal(reason, WebUtility.HtmlDecode(shown));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.Contains($"<a class=\"id\" href=\"/console/accounts/A/{alice}\">A/{alice}</a>", html);
        // Paging across the two parts: a page of one, then the next part from its start.
        var first = await Html(browser, "/console/transfers?take=1");
        Assert.Equal([stuck], Ids(first));
        var second = await Html(browser, WebUtility.HtmlDecode(Older().Match(first).Groups["href"].Value));
        Assert.Equal([completed], Ids(second));
        Assert.DoesNotMatch(Older(), second);
    }

    [Fact]
    public async Task Anyone_but_an_operator_sees_only_the_transfers_it_asked_for_and_an_operator_sees_every_one_changed_in_the_window()
    {
        var (mine, theirs) = (Someone("mine"), Someone("theirs"));
        var at = SomeTimeAgo();
        var own = await Stored(mine, (TransferStates.Completed, at, null));
        var other = await Stored(theirs, (TransferStates.Completed, at.AddSeconds(-1), null));
        var window = $"from={Local(at.AddMinutes(-1))}&to={Local(at.AddMinutes(1))}";

        var viewer = await SignedIn(api, mine, Roles.Transfers);
        var seen = Ids(await Html(viewer, $"/console/transfers?{window}"));
        var olga = await SignedIn(api, "olga", Roles.Operator);
        var everyone = Ids(await Html(olga, $"/console/transfers?state=Completed&{window}"));
        var recently = await Html(viewer, "/console/transfers?within=1h");

        Assert.Equal(own, seen);
        Assert.Equal([.. own, .. other], everyone);
        Assert.Empty(Ids(recently));
        Assert.Contains("No transfer matches.", recently);
    }

    [Theory]
    [InlineData("state=Done", "state")]
    [InlineData("take=0", "take")]
    [InlineData("take=201", "take")]
    [InlineData("from=yesterday", "from")]
    [InlineData("from=2026-01-02T00:00&to=2026-01-01T00:00", "to")]
    [InlineData("within=1y", "within")]
    [InlineData("within=1h&from=2026-01-01T00:00", "within")]
    [InlineData("after=bm90LWEtY3Vyc29y", "after")]
    [InlineData("part=rest", "part")]
    [InlineData("state=Completed&state=RolledBack", "state")]
    [InlineData("account=alice", "ledger")]
    [InlineData("ledger=Z&account=alice", "ledger")]
    [InlineData("ledger=A&account=al%20ice", "account")]
    [InlineData("page=2", "page")]
    public async Task A_filter_it_does_not_understand_is_a_400_page_naming_the_field(string query, string field)
    {
        var viewer = await SignedIn(api, Tester, Roles.Transfers);

        var response = await viewer.GetAsync($"/console/transfers?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"<li><code>{field}</code>", html);
        Assert.DoesNotContain("<table id=\"transfers\">", html);
    }

    [Fact]
    public async Task A_transfer_id_opens_its_page_and_an_account_opens_the_accounts_page()
    {
        var viewer = await SignedIn(api, Tester, Roles.Transfers);
        var id = Guid.NewGuid();

        var transfer = await viewer.GetAsync($"/console/transfers?id=+{id}+");
        var account = await viewer.GetAsync("/console/transfers?ledger=B&account=bob-1");
        var notAnId = await viewer.GetAsync("/console/transfers?id=123");

        Assert.Equal((HttpStatusCode.Redirect, $"/console/transfers/{id}"), (transfer.StatusCode, transfer.Headers.Location?.ToString()));
        Assert.Equal((HttpStatusCode.Redirect, "/console/accounts/B/bob-1"), (account.StatusCode, account.Headers.Location?.ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, notAnId.StatusCode);
    }

    [Fact]
    public async Task In_a_real_browser_a_viewer_filters_by_state_and_pages_with_no_console_warnings()
    {
        var viewer = Someone("browsing");
        var at = SomeTimeAgo();
        await Stored(viewer, (TransferStates.NeedsAttention, at.AddSeconds(-30), "credit failed 3 times: account B/closed-7 is closed"),
            (TransferStates.RolledBack, at.AddSeconds(-5), "the source ledger refused the debit: insufficient funds"));
        var completed = await Stored(viewer, [.. Enumerable.Range(0, 5).Select(i => (TransferStates.Completed, at.AddSeconds(-i), (string?)null))]);
        await using var web = OnKestrel(api);
        var site = Site(web);
        using var browser = Chromium();
        browser.Navigate().GoToUrl($"{site}/console");
        browser.FindElement(By.Id("token")).SendKeys(DevelopmentTokens.Create(viewer, [Roles.Transfers], TimeSpan.FromMinutes(30)));
        browser.FindElement(By.CssSelector("button[type=submit]")).Click();

        Leaving(browser, () => browser.FindElement(By.LinkText("Transfers")).Click());
        Assert.Equal("Transfers", browser.FindElement(By.TagName("h1")).Text);
        Assert.Equal(TransferStates.NeedsAttention, browser.FindElement(By.CssSelector("#transfers tbody tr:first-child td:nth-child(2)")).Text);
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots, "transfers.png"));
        browser.FindElement(By.CssSelector("#state option[value=Completed]")).Click();
        var take = browser.FindElement(By.Id("take"));
        take.Clear();
        Leaving(browser, () => take.SendKeys("2" + Keys.Enter));

        var pages = new List<Guid[]> { Rows(browser) };
        // The pager always holds a link after the first page, so looking for one does not wait out the implicit wait.
        while (browser.FindElements(By.CssSelector("nav.pager a")).Any(a => a.GetDomAttribute("id") == "older") && pages.Count < 5)
        {
            Leaving(browser, () => browser.FindElement(By.Id("older")).Click());
            pages.Add(Rows(browser));
        }
        Leaving(browser, () => browser.FindElement(By.Id("newest")).Click());

        Assert.Equal([completed[..2], completed[2..4], completed[4..]], pages);
        Assert.Equal(completed[..2], Rows(browser));
        Assert.Contains("state=Completed", browser.Url);
        Assert.Empty(browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message));
    }

    private static Guid[] Rows(IWebDriver browser) =>
        [.. browser.FindElements(By.CssSelector("#transfers tbody td:first-child a")).Select(a => Guid.Parse(a.Text))];

    private static string Someone(string what) => $"{what}-{Guid.NewGuid():N}"[..(what.Length + 9)];

    /// <summary>An instant of this spec's own, long ago, in whole milliseconds (the store keeps microseconds).</summary>
    private static DateTimeOffset SomeTimeAgo() =>
        new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(Random.Shared.Next(0, 900_000_000)).AddMilliseconds(Random.Shared.Next(0, 1000));

    private static string Local(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss");

    /// <summary>Transfer views as the coordinator stores them, asked for by <paramref name="initiator"/>; their ids in the order given.</summary>
    private async Task<Guid[]> Stored(string initiator, params (string State, DateTimeOffset At, string? Reason)[] transfers)
    {
        var views = transfers.Select(t => new TransferState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = t.State, Version = 1, FromLedger = "A", FromAccount = "alice-" + initiator, ToLedger = "B", ToAccount = "bob",
            Amount = 1.25m, Currency = "EUR", Initiator = initiator, Reason = t.Reason, CreatedAt = t.At, UpdatedAt = t.At,
        }).ToArray();
        await using var session = _store.LightweightSession();
        session.Store(views);
        await session.SaveChangesAsync();
        return [.. views.Select(v => v.CorrelationId)];
    }

    private static Guid[] Ids(string html) => [.. TransferRow().Matches(html).Select(m => Guid.Parse(m.Groups["id"].Value))];

    [GeneratedRegex("<tr class=\"transfer\"><td><a class=\"id\" href=\"/console/transfers/(?<id>[0-9a-f-]{36})\">")]
    private static partial Regex TransferRow();

    [GeneratedRegex("<a id=\"older\" rel=\"next\" href=\"(?<href>[^\"]+)\"")]
    private static partial Regex Older();
}
