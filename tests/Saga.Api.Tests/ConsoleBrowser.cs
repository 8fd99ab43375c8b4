using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Saga.Components.Security;
using static Saga.Api.Tests.ApiSystem;

namespace Saga.Api.Tests;

/// <summary>
/// The console as its specs use it: an HttpClient that keeps cookies and follows no redirect (a browser without
/// scripts), and Debian's chromium for the specs that need a real one.
/// </summary>
public static partial class ConsoleBrowser
{
    /// <summary>A browser needs a real socket: a second Api host, on Kestrel, in front of the same system. Dispose it.</summary>
    public static WebApplicationFactory<Program> OnKestrel(ApiSystem api)
    {
        var web = For(api.System, permitsPerSecond: 5000);
        web.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        web.StartServer();
        return web;
    }

    /// <summary>The address <see cref="OnKestrel"/> listens on, e.g. http://127.0.0.1:40123.</summary>
    public static string Site(WebApplicationFactory<Program> web) =>
        web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>Where the specs save screenshots of the pages they saw (under the test output).</summary>
    public static string Screenshots => Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    /// <summary>Debian's chromium, headless, through its chromium-driver (infra/browser.sh installs both); nothing downloaded.</summary>
    public static ChromeDriver Chromium()
    {
        const string driver = "/usr/bin/chromedriver", binary = "/usr/bin/chromium";
        Assert.True(File.Exists(driver) && File.Exists(binary), $"{binary} and {driver} are missing: run infra/browser.sh (as root) to install chromium and chromium-driver");
        var options = new ChromeOptions { BinaryLocation = binary };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var browser = new ChromeDriver(ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver), Path.GetFileName(driver)), options);
        // FindElement waits up to this long for an element the page has not shown yet.
        browser.Manage().Timeouts().ImplicitWait = TimeSpan.FromSeconds(15);
        return browser;
    }

    /// <summary>
    /// Does <paramref name="leave"/> (a click or key that loads another page) and returns once the page it left is gone:
    /// WebDriver need not wait for a navigation a click starts, and a read straight after can find the old page still there.
    /// </summary>
    public static void Leaving(IWebDriver browser, Action leave)
    {
        var left = browser.FindElement(By.TagName("html"));
        leave();
        // Once its document is replaced, asking the old page's root anything throws.
        new WebDriverWait(browser, TimeSpan.FromSeconds(60)).Until(driver =>
        {
            try
            {
                _ = left.TagName;
                return false;
            }
            catch (StaleElementReferenceException)
            {
                return true;
            }
        });
    }

    public static HttpClient Browser(ApiSystem api) => api.Api.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    public static async Task<HttpClient> SignedIn(ApiSystem api, string subject, params string[] roles)
    {
        var browser = Browser(api);
        var token = DevelopmentTokens.Create(subject, roles, TimeSpan.FromMinutes(30));
        var response = await Post(browser, "/console/sign-in", await FormToken(browser, "/console/sign-in"), ("token", token));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    public static async Task<string> Html(HttpClient browser, string path)
    {
        var response = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    public static async Task<string> FormToken(HttpClient browser, string path) => FormTokenIn(await Html(browser, path));

    public static string FormTokenIn(string html) => AntiforgeryField().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups["token"].Value) : throw new InvalidOperationException("no anti-forgery field");

    public static Task<HttpResponseMessage> Post(HttpClient browser, string path, string antiforgery, params (string Name, string Value)[] fields) =>
        browser.PostAsync(path, new FormUrlEncodedContent([new("__RequestVerificationToken", antiforgery), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]));

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"(?<token>[^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
