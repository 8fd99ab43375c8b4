using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Net.Http.Headers;
using OpenQA.Selenium;
using Saga.Components.Security;
using Saga.Contracts;
using Saga.Testing;
using static Saga.Api.Tests.ApiSystem;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>The operator console at /console, as a browser without scripts uses it: pages, a cookie, forms.</summary>
public sealed partial class Console_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private HttpClient Browser() => ConsoleBrowser.Browser(api);

    private Task<HttpClient> SignedIn(string subject, params string[] roles) => ConsoleBrowser.SignedIn(api, subject, roles);

    [Fact]
    public async Task Signing_in_with_a_development_token_sets_a_strict_cookie_that_lives_no_longer_than_the_token_and_the_API_ignores()
    {
        var browser = Browser();
        var away = await browser.GetAsync("/console");
        Assert.Equal(HttpStatusCode.Redirect, away.StatusCode);
        Assert.StartsWith("/console/sign-in", away.Headers.Location?.PathAndQuery);

        var refused = await Post(browser, "/console/sign-in", await FormToken(browser, "/console/sign-in"), ("token", "not-a-token"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.False(refused.Headers.Contains(HeaderNames.SetCookie) && refused.Headers.GetValues(HeaderNames.SetCookie).Any(c => c.StartsWith("saga-console=")));

        var token = DevelopmentTokens.Create("olga", [Roles.Operator], TimeSpan.FromMinutes(20));
        var signedIn = await Post(browser, "/console/sign-in", await FormToken(browser, "/console/sign-in"), ("token", token));

        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        var cookie = SetCookieHeaderValue.ParseList([.. signedIn.Headers.GetValues(HeaderNames.SetCookie)]).Single(c => c.Name == "saga-console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Strict, cookie.SameSite);
        Assert.Equal("/console", cookie.Path.ToString());
        Assert.Equal(new JsonWebToken(token).ValidTo, cookie.Expires?.UtcDateTime);
        var overview = await browser.GetAsync("/console");
        Assert.Equal(HttpStatusCode.OK, overview.StatusCode);
        Assert.Contains("olga (operator)", await overview.Content.ReadAsStringAsync());

        // The cookie is the console's only: sent to the JSON API, it authenticates nothing.
        var apiCall = new HttpRequestMessage(HttpMethod.Get, "/transfers?state=Completed");
        apiCall.Headers.Add(HeaderNames.Cookie, $"saga-console={cookie.Value}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.Api.CreateClient().SendAsync(apiCall)).StatusCode);
    }

    [Fact]
    public async Task The_overview_counts_the_callers_completed_transfer_and_its_page_shows_the_timeline()
    {
        var viewer = "viewer-" + Guid.NewGuid().ToString("N")[..8];
        var alice = await api.OpenAccount("A", "alice", 100m, owner: viewer);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var client = Client(api.Api, viewer, Roles.Transfers);
        var response = await client.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, bob, 12.5m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(client, $"/transfers/{id}", TransferStates.Completed);
        var browser = await SignedIn(viewer, Roles.Transfers);

        var overview = await Html(browser, "/console");

        Assert.Equal("1", Count(overview, TransferStates.Completed));
        Assert.Equal("0", Count(overview, TransferStates.NeedsAttention));
        var page = await Html(browser, $"/console/transfers/{id}");
        Assert.Contains(">12.50 EUR<", page);
        var timeline = EventRow().Matches(page).Select(m => (m.Groups["version"].Value, m.Groups["type"].Value));
        Assert.Equal([("1", "HalfMessageStored"), ("2", "TransferCommitted"), ("3", "CreditRequested"), ("4", "CreditConfirmed")], timeline);
        Assert.Contains($"<dd><a href=\"/console/accounts/A/{alice}\">A/{alice}</a></dd>", page);
        Assert.Contains($"Credit applied at <span class=\"account\">B/{bob}</span>", page);
    }

    [Fact]
    public async Task A_transfers_page_shows_the_balances_it_touched_to_whom_may_see_them()
    {
        var viewer = "viewer-" + Guid.NewGuid().ToString("N")[..8];
        var alice = await api.OpenAccount("A", "alice", 100m, owner: viewer);
        var bob = await api.OpenAccount("B", "bob", 5m);
        var client = Client(api.Api, viewer, Roles.Transfers);
        var response = await client.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, bob, 12.5m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(client, $"/transfers/{id}", TransferStates.Completed);

        var asOperator = await Html(await SignedIn("olga", Roles.Operator), $"/console/transfers/{id}");
        var asOwner = await Html(await SignedIn(viewer, Roles.Transfers), $"/console/transfers/{id}");

        Assert.Equal(("87.50", "17.50"), (BalanceOf(asOperator, "from"), BalanceOf(asOperator, "to")));
        Assert.Contains($"<a href=\"/console/accounts/B/{bob}\">B/{bob}</a>", asOperator);
        // The owner of the source sees its balance; the destination is someone else's.
        Assert.Equal(("87.50", "no account you may see"), (BalanceOf(asOwner, "from"), BalanceOf(asOwner, "to")));
    }

    [Fact]
    public async Task A_ledger_that_does_not_answer_leaves_the_transfers_page_whole_saying_so()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var response = await api.Transfers.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, bob, 10m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);
        await using var impatient = For(api.System, permitsPerSecond: 5000).WithWebHostBuilder(web => web.UseSetting("Api:RequestTimeout", "00:00:01"));
        var browser = impatient.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });
        // Ledger A is asked through this new Api's bus, which answers nothing until it has connected (its probe says 503 until then).
        await Eventually.Until(async () => (await browser.GetAsync("/health/ready")).StatusCode, s => s == HttpStatusCode.OK,
            "the impatient Api's readiness probe answered 200");
        Assert.Equal(HttpStatusCode.Redirect, (await Post(browser, "/console/sign-in", await FormToken(browser, "/console/sign-in"),
            ("token", DevelopmentTokens.Create("olga", [Roles.Operator], TimeSpan.FromMinutes(5))))).StatusCode);
        await SagaSystem.Freeze(api.System.LedgerB);
        try
        {
            // A loaded machine can keep even ledger A from answering within the second: the page is asked again until A's answer made it.
            var page = await Eventually.Until(() => Html(browser, $"/console/transfers/{id}"), p => BalanceOf(p, "from") == "90.00",
                "the page showed ledger A's balance while B did not answer", TimeSpan.FromSeconds(60),
                p => $"from {BalanceOf(p, "from")}, to {BalanceOf(p, "to")}", every: TimeSpan.FromMilliseconds(500));

            Assert.Equal(("90.00", "ledger did not answer"), (BalanceOf(page, "from"), BalanceOf(page, "to")));
            Assert.Contains(">Completed<", page);
        }
        finally
        {
            await SagaSystem.Thaw(api.System.LedgerB);
        }
    }

    [Fact]
    public async Task Only_an_operator_sees_the_repairs_a_transfer_allows_and_a_repair_is_made_only_once_confirmed()
    {
        var alice = await api.OpenAccount("A", "alice", 500m);
        var response = await api.Transfers.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, "ghost-" + Guid.NewGuid().ToString("N")[..6], 200m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.NeedsAttention);
        var path = $"/console/transfers/{id}";

        var viewer = await SignedIn(Tester, Roles.Transfers);
        var seen = await Html(viewer, path);
        Assert.Contains(">NeedsAttention<", seen);
        Assert.DoesNotContain("/refund\"", seen);
        Assert.Contains($"href=\"{path}\"", await Html(viewer, "/console"));
        // The viewer's own anti-forgery token (from the sign-out form): the role, not the token, refuses it.
        var forged = await Post(viewer, $"{path}/refund", FormTokenIn(seen), ("reason", "let me"), ("confirmed", "yes"));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);

        var olga = await SignedIn("olga", Roles.Operator);
        var offered = await Html(olga, path);
        // The debit committed and the credit never landed: no recheck.
        Assert.Equal(["retry-credit", "refund", "resolve"], RepairForm().Matches(offered).Select(m => m.Groups["repair"].Value));
        var withoutToken = await olga.PostAsync($"{path}/refund", new FormUrlEncodedContent([new("reason", "no token"), new("confirmed", "yes")]));
        Assert.Equal(HttpStatusCode.BadRequest, withoutToken.StatusCode);
        var before = await api.Transfers.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events");

        // The repair's form only shows what it will do: nothing is asked of the coordinator yet.
        var asked = await Post(olga, $"{path}/refund", FormTokenIn(offered), ("reason", "no such account at B"));

        Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
        var confirmation = await asked.Content.ReadAsStringAsync();
        Assert.Contains($"Refund 200.00 EUR to A/{alice}: the credit at B is voided first, then A is credited.", confirmation);
        Assert.Contains("<dd id=\"reason\">no such account at B</dd>", confirmation);
        Assert.Contains("<input type=\"hidden\" name=\"confirmed\" value=\"yes\">", confirmation);
        Assert.Contains($"<a id=\"cancel\" href=\"{path}\">Cancel</a>", confirmation);
        Assert.Equal(TransferStates.NeedsAttention, (await api.Transfers.GetFromJsonAsync<JsonElement>($"/transfers/{id}")).GetProperty("state").GetString());
        Assert.Equal(before!.Length, (await api.Transfers.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events"))!.Length);

        var refund = await Post(olga, $"{path}/refund", FormTokenIn(confirmation), ("reason", "no such account at B"), ("confirmed", "yes"));

        Assert.Equal(HttpStatusCode.Redirect, refund.StatusCode);
        Assert.Equal(path, refund.Headers.Location?.ToString());
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Refunded);
        var events = await api.Transfers.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events");
        var refundEvent = events!.Single(e => e.GetProperty("type").GetString() == "RefundRequested").GetProperty("data");
        Assert.Equal(("olga", "no such account at B"), (refundEvent.GetProperty("operator").GetString(), refundEvent.GetProperty("reason").GetString()));
        var after = await Html(olga, path);
        Assert.Contains("Refund requested by <strong class=\"who\">olga</strong>: <q class=\"reason\">no such account at B</q>", after);
        Assert.DoesNotContain("/refund\"", after);
        // A button that went stale: refused before confirming, and by the coordinator when confirmed.
        Assert.Equal(HttpStatusCode.Conflict, (await Post(olga, $"{path}/refund", FormTokenIn(after), ("reason", "again"))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(olga, $"{path}/refund", FormTokenIn(after), ("reason", "again"), ("confirmed", "yes"))).StatusCode);
    }

    [Fact]
    public async Task Every_console_response_carries_a_strict_content_security_policy()
    {
        var viewer = await SignedIn(Tester, Roles.Transfers);
        var responses = new[]
        {
            await Browser().GetAsync("/console/sign-in"),
            await viewer.GetAsync("/console"),
            await viewer.GetAsync($"/console/transfers/{Guid.NewGuid()}"),
            await viewer.PostAsync($"/console/transfers/{Guid.NewGuid()}/refund", new FormUrlEncodedContent([new("reason", "x")])),
        };

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.Forbidden], responses.Select(r => r.StatusCode));
        foreach (var response in responses)
        {
            var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy")).Split(';', StringSplitOptions.TrimEntries);
            Assert.Contains("default-src 'self'", policy);
            Assert.Contains("script-src 'self'", policy);
            Assert.Contains("frame-ancestors 'none'", policy);
            Assert.DoesNotContain(policy, p => p.Contains("unsafe-inline"));
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        }
        Assert.False((await api.Transfers.GetAsync("/transfers?state=Completed")).Headers.Contains("Content-Security-Policy"));
    }

    [Fact]
    public async Task In_a_real_browser_an_operator_signs_in_and_sees_the_overview_and_a_timeline_with_no_console_errors()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var response = await api.Transfers.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, bob, 7m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);
        await using var web = OnKestrel(api);
        var site = Site(web);
        var screenshots = Screenshots;
        using var browser = Chromium();

        browser.Navigate().GoToUrl($"{site}/console");
        browser.FindElement(By.Id("token")).SendKeys(DevelopmentTokens.Create("olga", [Roles.Operator], TimeSpan.FromMinutes(30)));
        browser.FindElement(By.CssSelector("button[type=submit]")).Click();

        Assert.NotEqual("0", browser.FindElement(By.CssSelector("#state-Completed td.number")).Text);
        Assert.Equal("Overview", browser.FindElement(By.TagName("h1")).Text);
        browser.GetScreenshot().SaveAsFile(Path.Combine(screenshots, "overview.png"));
        browser.FindElement(By.Id("id")).SendKeys(id.ToString());
        browser.FindElement(By.CssSelector("form[action='/console/transfers'] button")).Click();
        Assert.Equal(TransferStates.Completed, browser.FindElement(By.Id("state")).Text);
        Assert.Equal(4, browser.FindElements(By.CssSelector("#timeline tbody tr")).Count);
        browser.GetScreenshot().SaveAsFile(Path.Combine(screenshots, "timeline.png"));
        // A style or script the Content-Security-Policy blocked would be reported here.
        Assert.Empty(browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message));
    }

    private static string Count(string overview, string state) =>
        Regex.Match(overview, $"<tr id=\"state-{state}\"><td[^>]*>{state}</td><td class=\"number\">(\\d+)</td>") is { Success: true } m ? m.Groups[1].Value : "absent";

    private static string BalanceOf(string page, string side) =>
        Regex.Match(page, $"<tr id=\"balance-{side}\">.*?<td class=\"number balance[^\"]*\">(?<balance>[^<]+)</td>") is { Success: true } m ? m.Groups["balance"].Value : "absent";

    [GeneratedRegex("<tr><td class=\"number\">(?<version>\\d+)</td><td>[^<]*</td><td>(?<type>[A-Za-z]+)</td>")]
    private static partial Regex EventRow();

    [GeneratedRegex("<button type=\"submit\" name=\"repair\" value=\"(?<repair>[a-z-]+)\">")]
    private static partial Regex RepairForm();
}
