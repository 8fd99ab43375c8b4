using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using Saga.Components.Security;
using Saga.Contracts;
using static Saga.Api.Tests.ApiSystem;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>An account's balance and transfers, asked of its ledger: in the JSON API and the console, for its owner and operators only.</summary>
public sealed class ConsoleAccounts_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    /// <summary>An account on A owned by a new caller, with <paramref name="amounts"/> sent from it to a new account on B, each Completed.</summary>
    private async Task<(string Owner, string Alice, string Bob, Guid[] Transfers)> AccountWithTransfers(params decimal[] amounts)
    {
        var owner = "owner-" + Guid.NewGuid().ToString("N")[..8];
        var alice = await api.OpenAccount("A", "alice", 100m, owner);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var client = Client(api.Api, owner, Roles.Transfers);
        var ids = new List<Guid>();
        foreach (var amount in amounts)
        {
            var response = await client.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, bob, amount), "k-" + Guid.NewGuid()));
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
            await UntilState(client, $"/transfers/{id}", TransferStates.Completed);
            ids.Add(id);
        }
        return (owner, alice, bob, [.. ids]);
    }

    [Fact]
    public async Task The_owner_sees_the_accounts_transfers_newest_first_with_their_state_and_pages_them_by_cursor()
    {
        var (owner, alice, bob, ids) = await AccountWithTransfers(12.5m, 3m);
        var client = Client(api.Api, owner, Roles.Transfers);

        var first = await client.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}/transfers?take=1");
        var next = first.GetProperty("next").GetString();
        var second = await client.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}/transfers?take=1&before={Uri.EscapeDataString(next!)}");

        Assert.Equal(84.5m, first.GetProperty("balance").GetDecimal());
        var newest = Assert.Single(first.GetProperty("items").EnumerateArray());
        Assert.Equal((ids[1], "debited", 3m, TransferStates.Completed),
            (newest.GetProperty("transferId").GetGuid(), newest.GetProperty("entry").GetString(), newest.GetProperty("amount").GetDecimal(), newest.GetProperty("state").GetString()));
        var older = Assert.Single(second.GetProperty("items").EnumerateArray());
        Assert.Equal((ids[0], "debited", 12.5m), (older.GetProperty("transferId").GetGuid(), older.GetProperty("entry").GetString(), older.GetProperty("amount").GetDecimal()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
        // The destination's owner (the tests' default) sees the credits on its own account.
        var credits = await api.Transfers.GetFromJsonAsync<JsonElement>($"/ledgers/B/accounts/{bob}/transfers");
        Assert.Equal([(ids[1], "credited"), (ids[0], "credited")],
            credits.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("transferId").GetGuid(), i.GetProperty("entry").GetString())));
    }

    [Fact]
    public async Task A_stranger_is_told_there_is_no_such_account_and_an_operator_sees_it_with_its_owner()
    {
        var (owner, alice, _, ids) = await AccountWithTransfers(1m);

        var stranger = await Client(api.Api, "stranger", Roles.Transfers).GetAsync($"/ledgers/A/accounts/{alice}/transfers");
        var operatorSees = await api.Operator.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}/transfers");

        Assert.Equal("No such account", (await Problem(stranger, HttpStatusCode.NotFound)).GetProperty("title").GetString());
        Assert.DoesNotContain(ids[0].ToString(), await stranger.Content.ReadAsStringAsync());
        Assert.Equal(owner, operatorSees.GetProperty("owner").GetString());
        Assert.Equal(ids[0], Assert.Single(operatorSees.GetProperty("items").EnumerateArray()).GetProperty("transferId").GetGuid());
    }

    [Theory]
    [InlineData("A", "alice", "take=0", HttpStatusCode.BadRequest, "take")]
    [InlineData("A", "alice", "take=101", HttpStatusCode.BadRequest, "take")]
    [InlineData("A", "alice", "take=ten", HttpStatusCode.BadRequest, "take")]
    [InlineData("A", "alice", "before=not-a-cursor", HttpStatusCode.BadRequest, "before")]
    [InlineData("A", "al%20ice", "", HttpStatusCode.BadRequest, "accountId")]
    [InlineData("Z", "alice", "", HttpStatusCode.NotFound, null)]
    public async Task Bad_input_is_a_problem_naming_the_field(string ledger, string accountId, string query, HttpStatusCode status, string? field)
    {
        var response = await api.Operator.GetAsync($"/ledgers/{ledger}/accounts/{accountId}/transfers?{query}");

        var problem = await Problem(response, status);
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
    }

    [Fact]
    public async Task The_console_page_shows_the_balance_and_transfers_to_the_owner_the_owner_to_operators_and_nothing_to_strangers()
    {
        var (owner, alice, _, ids) = await AccountWithTransfers(12.5m);
        var path = $"/console/accounts/A/{alice}";

        var seen = await Html(await SignedIn(api, owner, Roles.Transfers), path);
        var asOperator = await Html(await SignedIn(api, "olga", Roles.Operator), path);
        var stranger = await (await SignedIn(api, "stranger", Roles.Transfers)).GetAsync(path);

        Assert.Contains("<dd id=\"balance\">87.50 EUR</dd>", seen);
        Assert.Contains($"href=\"/console/transfers/{ids[0]}\"", seen);
        Assert.Contains("<td>Debited</td><td class=\"number\">−12.50</td>", seen);
        Assert.Contains($">{TransferStates.Completed}</td>", seen);
        Assert.DoesNotContain("id=\"owner\"", seen);
        Assert.Contains($"<dd id=\"owner\">{owner}</dd>", asOperator);
        Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
        Assert.DoesNotContain(ids[0].ToString(), await stranger.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_lookup_leads_to_the_account_and_bad_lookups_are_clear_pages()
    {
        var olga = await SignedIn(api, "olga", Roles.Operator);

        var form = await Html(olga, "/console/accounts");
        var found = await olga.GetAsync("/console/accounts?ledger=B&accountId=bob-1");
        var unknownLedger = await olga.GetAsync("/console/accounts?ledger=Z&accountId=bob-1");
        var badId = await olga.GetAsync("/console/accounts?ledger=A&accountId=%3Cscript%3E");
        var unknownLedgerPage = await olga.GetAsync("/console/accounts/Z/bob-1");
        var badIdPage = await olga.GetAsync("/console/accounts/A/b%20ob");
        var badCursor = await olga.GetAsync("/console/accounts/A/bob-1?before=nope");
        var noSuchAccount = await olga.GetAsync($"/console/accounts/A/nobody-{Guid.NewGuid():N}"[..40]);

        Assert.Contains("<option value=\"A\">A</option><option value=\"B\">B</option>", form);
        Assert.Contains("<a href=\"/console/accounts\">Accounts</a>", form);
        Assert.Equal((HttpStatusCode.Redirect, "/console/accounts/B/bob-1"), (found.StatusCode, found.Headers.Location?.ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, unknownLedger.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.DoesNotContain("<script>", await badId.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, unknownLedgerPage.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badIdPage.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, noSuchAccount.StatusCode);
        Assert.Contains("No such account", await noSuchAccount.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task In_a_real_browser_an_operator_looks_up_an_account_sees_its_transfers_and_opens_one()
    {
        var (_, alice, _, ids) = await AccountWithTransfers(7m);
        await using var web = OnKestrel(api);
        var site = Site(web);
        using var browser = Chromium();

        browser.Navigate().GoToUrl($"{site}/console");
        browser.FindElement(By.Id("token")).SendKeys(DevelopmentTokens.Create("olga", [Roles.Operator], TimeSpan.FromMinutes(30)));
        browser.FindElement(By.CssSelector("button[type=submit]")).Click();
        browser.FindElement(By.LinkText("Accounts")).Click();
        browser.FindElement(By.CssSelector("#ledger option[value=A]")).Click();
        browser.FindElement(By.Id("accountId")).SendKeys(alice);
        Leaving(browser, () => browser.FindElement(By.CssSelector("form.lookup button")).Click());

        Assert.Equal($"Account A/{alice}", browser.FindElement(By.TagName("h1")).Text);
        Assert.Equal("93.00 EUR", browser.FindElement(By.Id("balance")).Text);
        var row = Assert.Single(browser.FindElements(By.CssSelector("#account-transfers tbody tr")));
        Assert.Contains(TransferStates.Completed, row.Text);
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots, "account.png"));
        Leaving(browser, () => row.FindElement(By.CssSelector("a")).Click());
        Assert.Equal(TransferStates.Completed, browser.FindElement(By.Id("state")).Text);
        Assert.EndsWith($"/console/transfers/{ids[0]}", browser.Url);
        // A style or script the Content-Security-Policy blocked would be reported here.
        Assert.Empty(browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message));
    }
}
