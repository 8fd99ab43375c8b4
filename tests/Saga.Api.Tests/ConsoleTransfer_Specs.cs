using System.Drawing;
using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Saga.Components.Security;
using Saga.Contracts;
using static Saga.Api.Tests.ApiSystem;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>A transfer's page in real headless Chromium against the real hosts: its timeline, and a repair made and refused.</summary>
public sealed class ConsoleTransfer_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private const string Reason = "no such account at B";

    [Fact]
    public async Task An_operator_refunds_a_transfer_that_needs_attention_with_a_reason_once_confirmed_and_sees_it_end_Refunded()
    {
        var (id, alice) = await TransferToAnAccountBDoesNotHave(200m);
        await using var web = OnKestrel(api);
        var site = Site(web);
        using var browser = Chromium();
        SignIn(browser, site, "olga", Roles.Operator);
        Assert.Empty(Warnings(browser));

        browser.Navigate().GoToUrl($"{site}/console/transfers/{id}");
        Assert.Equal(TransferStates.NeedsAttention, browser.FindElement(By.Id("state")).Text);
        Assert.StartsWith("Credit failed at B: ", Row(browser, "CreditFailed").FindElement(By.CssSelector(".sentence")).Text);
        Assert.Equal("300.00", browser.FindElement(By.CssSelector("#balance-from td.balance")).Text);
        Shoot(browser, "timeline-needs-attention.png");
        Assert.Empty(Warnings(browser));

        browser.FindElement(By.Id("reason-refund")).SendKeys(Reason);
        browser.FindElement(By.CssSelector("button[value=refund]")).Click();

        Assert.Equal($"Refund 200.00 EUR to A/{alice}: the credit at B is voided first, then A is credited.", browser.FindElement(By.Id("consequence")).Text);
        Assert.Equal(Reason, browser.FindElement(By.Id("reason")).Text);
        Shoot(browser, "repair-confirm.png");
        Assert.Empty(Warnings(browser));
        Assert.Equal(TransferStates.NeedsAttention, await State(id));

        browser.FindElement(By.Id("confirm")).Click();

        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
        wait.Until(b =>
        {
            if (b.FindElement(By.Id("state")).Text == TransferStates.Refunded)
            {
                return true;
            }
            b.Navigate().Refresh();
            return false;
        });
        var refundRequested = Row(browser, "RefundRequested");
        Assert.StartsWith("Refund requested by olga: ", refundRequested.FindElement(By.CssSelector(".sentence")).Text);
        Assert.Equal(("olga", Reason), (refundRequested.FindElement(By.CssSelector(".who")).Text, refundRequested.FindElement(By.CssSelector(".reason")).Text.Trim('"', '“', '”')));
        refundRequested.FindElement(By.TagName("summary")).Click();
        Assert.Contains("operator", refundRequested.FindElement(By.CssSelector("dl.data")).Text);
        Assert.Equal("500.00", browser.FindElement(By.CssSelector("#balance-from td.balance")).Text);
        Assert.Empty(None(browser, By.CssSelector("form.repair")));
        Shoot(browser, "refunded.png");
        Assert.Empty(Warnings(browser));
    }

    [Fact]
    public async Task A_transfers_user_sees_the_transfer_without_repairs_and_a_repair_forged_from_the_page_gets_403_and_changes_nothing()
    {
        var (id, _) = await TransferToAnAccountBDoesNotHave(50m);
        await using var web = OnKestrel(api);
        var site = Site(web);
        using var browser = Chromium();
        SignIn(browser, site, Tester, Roles.Transfers);
        browser.Navigate().GoToUrl($"{site}/console/transfers/{id}");
        Assert.Equal(TransferStates.NeedsAttention, browser.FindElement(By.Id("state")).Text);
        Assert.Empty(None(browser, By.CssSelector("form.repair, button[name=repair]")));
        Assert.Empty(Warnings(browser));
        var before = await Events(id);

        // The page's own anti-forgery token (its sign-out form) and the cookie: everything a forger in the page has.
        var status = browser.ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            const token = document.querySelector('input[name=__RequestVerificationToken]').value;
            fetch(location.pathname + '/refund', {
                method: 'POST',
                headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
                body: new URLSearchParams({ __RequestVerificationToken: token, reason: 'let me', confirmed: 'yes' }),
            }).then(r => done(r.status), e => done(String(e)));
            """);

        Assert.Equal(403L, status);
        // The refused fetch is the one thing the console may report.
        Assert.All(Warnings(browser), w => Assert.Contains("403", w));
        Assert.Equal(TransferStates.NeedsAttention, await State(id));
        Assert.Equal(before, await Events(id));
        browser.Navigate().Refresh();
        Assert.Equal(TransferStates.NeedsAttention, browser.FindElement(By.Id("state")).Text);
        Assert.Empty(Warnings(browser));
    }

    private async Task<(Guid Id, string From)> TransferToAnAccountBDoesNotHave(decimal amount)
    {
        var alice = await api.OpenAccount("A", "alice", 500m);
        var response = await api.Transfers.SendAsync(ApiSystem.Post("/transfers", Transfer(alice, "ghost-" + Guid.NewGuid().ToString("N")[..6], amount), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.NeedsAttention);
        return (id, alice);
    }

    private async Task<string?> State(Guid id) => (await api.Operator.GetFromJsonAsync<JsonElement>($"/transfers/{id}")).GetProperty("state").GetString();

    private async Task<string[]> Events(Guid id) =>
        [.. (await api.Operator.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events"))!.Select(e => e.GetProperty("type").GetString()!)];

    private static void SignIn(ChromeDriver browser, string site, string subject, string role)
    {
        browser.Navigate().GoToUrl($"{site}/console/sign-in");
        browser.FindElement(By.Id("token")).SendKeys(DevelopmentTokens.Create(subject, [role], TimeSpan.FromMinutes(30)));
        browser.FindElement(By.CssSelector("button[type=submit]")).Click();
        Assert.StartsWith(subject, browser.FindElement(By.CssSelector("nav .who")).Text);
    }

    /// <summary>The timeline's row of the one event of <paramref name="type"/>.</summary>
    private static IWebElement Row(ChromeDriver browser, string type) =>
        browser.FindElement(By.XPath($"//table[@id='timeline']/tbody/tr[td[3]='{type}']"));

    /// <summary>The elements the page shows now, without waiting for any to appear.</summary>
    private static IReadOnlyCollection<IWebElement> None(ChromeDriver browser, By by)
    {
        var timeouts = browser.Manage().Timeouts();
        var wait = timeouts.ImplicitWait;
        timeouts.ImplicitWait = TimeSpan.Zero;
        try
        {
            return browser.FindElements(by);
        }
        finally
        {
            timeouts.ImplicitWait = wait;
        }
    }

    /// <summary>What the browser's console reported since last asked: a style or script the Content-Security-Policy blocked would be here.</summary>
    private static string[] Warnings(ChromeDriver browser) =>
        [.. browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message)];

    /// <summary>The whole page, not only the window's height.</summary>
    private static void Shoot(ChromeDriver browser, string name)
    {
        var window = browser.Manage().Window;
        var size = window.Size;
        // The window's height is the page's and the browser's own frame around it.
        var height = Convert.ToInt32(browser.ExecuteScript("window.scrollTo(0, 0); return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"));
        window.Size = new Size(size.Width, Math.Max(size.Height, height));
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots, name));
        window.Size = size;
    }
}
