using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Saga.Components.Security;

namespace Saga.Api.Tests;

/// <summary>The OpenAPI document the running Api serves tells a client the whole contract of each operation.</summary>
public sealed class OpenApi_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private static readonly Dictionary<string, (string Method, string Path, string Role)> Operations = new()
    {
        ["SubmitTransfer"] = ("post", "/transfers", Roles.Transfers),
        ["ListTransfers"] = ("get", "/transfers", Roles.Transfers),
        ["GetTransfer"] = ("get", "/transfers/{transferId}", Roles.Transfers),
        ["GetTransferEvents"] = ("get", "/transfers/{transferId}/events", Roles.Transfers),
        ["RetryCredit"] = ("post", "/transfers/{transferId}/retry-credit", Roles.Operator),
        ["RecheckTransfer"] = ("post", "/transfers/{transferId}/recheck", Roles.Operator),
        ["RefundTransfer"] = ("post", "/transfers/{transferId}/refund", Roles.Operator),
        ["ResolveTransfer"] = ("post", "/transfers/{transferId}/resolve", Roles.Operator),
        ["OpenAccount"] = ("post", "/ledgers/{ledger}/accounts", Roles.Operator),
        ["GetAccount"] = ("get", "/ledgers/{ledger}/accounts/{accountId}", Roles.Transfers),
        ["ListAccountTransfers"] = ("get", "/ledgers/{ledger}/accounts/{accountId}/transfers", Roles.Transfers),
    };

    private async Task<JsonElement> Document()
    {
        using var client = api.Api.CreateClient();
        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>The schema itself, where <paramref name="schema"/> refers to one of the document's components.</summary>
    private static JsonElement Resolve(JsonElement document, JsonElement schema) =>
        schema.TryGetProperty("$ref", out var reference)
            ? document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..])
            : schema;

    private static JsonElement Operation(JsonElement document, string id)
    {
        var (method, path, _) = Operations[id];
        return document.GetProperty("paths").GetProperty(path).GetProperty(method);
    }

    [Fact]
    public async Task Every_operation_has_its_id_summary_description_role_and_the_problems_every_caller_can_meet()
    {
        var document = await Document();

        var ids = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => o.Value.TryGetProperty("operationId", out var id) ? id.GetString() : $"(none: {o.Name} {p.Name})"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Operations.Keys.Concat(["Live", "Metrics", "Ready"]).Order(StringComparer.Ordinal), ids);
        Assert.Equal("http", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("type").GetString());
        foreach (var (id, (_, _, role)) in Operations)
        {
            var operation = Operation(document, id);
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()), id);
            Assert.Contains($"`{role}`", operation.GetProperty("description").GetString(), StringComparison.Ordinal);
            var security = Assert.Single(operation.GetProperty("security").EnumerateArray());
            Assert.Equal([role], security.GetProperty("bearer").EnumerateArray().Select(r => r.GetString()));
            var responses = operation.GetProperty("responses");
            foreach (var status in new[] { "401", "403", "429" })
            {
                Assert.True(responses.GetProperty(status).GetProperty("content").TryGetProperty("application/problem+json", out _), $"{id} {status}");
            }
            Assert.True(responses.GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _), id);
        }
    }

    [Fact]
    public async Task Submitting_a_transfer_is_described_with_its_body_its_key_and_every_answer_it_can_get()
    {
        var document = await Document();
        var submit = Operation(document, "SubmitTransfer");

        var key = Assert.Single(submit.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "Idempotency-Key");
        Assert.Equal("header", key.GetProperty("in").GetString());
        Assert.True(key.GetProperty("required").GetBoolean());
        Assert.Equal(128, key.GetProperty("schema").GetProperty("maxLength").GetInt32());
        Assert.True(submit.GetProperty("requestBody").GetProperty("required").GetBoolean());
        Assert.True(submit.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        var responses = submit.GetProperty("responses");
        Assert.False(responses.TryGetProperty("200", out _), "the Api answers 202, never 200");
        var accepted = responses.GetProperty("202");
        Assert.True(accepted.GetProperty("headers").GetProperty("Location").GetProperty("required").GetBoolean());
        Assert.True(accepted.GetProperty("content").TryGetProperty("application/json", out _));
        foreach (var status in new[] { "400", "409", "413", "415", "422", "503" })
        {
            Assert.True(responses.GetProperty(status).GetProperty("content").TryGetProperty("application/problem+json", out _), status);
        }
        Assert.True(responses.GetProperty("503").GetProperty("headers").TryGetProperty("Retry-After", out _));
        // A 400 names each refused field in `errors`, a list of messages (Http.Invalid).
        var invalid = Resolve(document, responses.GetProperty("400").GetProperty("content").GetProperty("application/problem+json").GetProperty("schema"));
        Assert.Equal("array", invalid.GetProperty("properties").GetProperty("errors").GetProperty("additionalProperties").GetProperty("type").GetString());
    }

    [Fact]
    public async Task The_listing_names_its_query_with_the_states_and_limits_the_Api_checks()
    {
        var document = await Document();

        var parameters = Operation(document, "ListTransfers").GetProperty("parameters").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        Assert.True(parameters["state"].GetProperty("required").GetBoolean());
        Assert.Equal(Contracts.TransferStates.All, parameters["state"].GetProperty("schema").GetProperty("enum").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(200, parameters["limit"].GetProperty("schema").GetProperty("maximum").GetInt32());
        Assert.True(parameters.ContainsKey("after"));
    }

    [Fact]
    public async Task Amounts_and_ids_carry_the_limits_the_Api_checks()
    {
        var document = await Document();
        var transfer = Resolve(document, Operation(document, "SubmitTransfer").GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.Equal(["amount", "from", "to"], transfer.GetProperty("required").EnumerateArray().Select(r => r.GetString()).Order(StringComparer.Ordinal));
        var amount = transfer.GetProperty("properties").GetProperty("amount");
        Assert.Equal("number", amount.GetProperty("type").GetString());
        Assert.Equal(0m, amount.GetProperty("exclusiveMinimum").GetDecimal());
        Assert.Equal(new ApiOptions().MaxAmount, amount.GetProperty("maximum").GetDecimal());
        Assert.Equal(0.01m, amount.GetProperty("multipleOf").GetDecimal());
        var accountId = Resolve(document, transfer.GetProperty("properties").GetProperty("from")).GetProperty("properties").GetProperty("accountId");
        Assert.Equal("string", accountId.GetProperty("type").GetString());
        Assert.Equal(64, accountId.GetProperty("maxLength").GetInt32());
        var pattern = new System.Text.RegularExpressions.Regex(accountId.GetProperty("pattern").GetString()!);
        foreach (var id in new[] { "alice", "A", "acc-1_x.y", new string('a', 64), new string('a', 65), "", "a b", "é", "a/b", "a:b" })
        {
            Assert.True(pattern.IsMatch(id) == Components.Ledgers.AccountIds.IsValid(id), $"'{id}': the document and the Api disagree");
        }
    }

    [Fact]
    public async Task The_probes_and_the_metrics_are_listed_as_anonymous_operations()
    {
        var document = await Document();

        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics" })
        {
            var get = document.GetProperty("paths").GetProperty(path).GetProperty("get");
            Assert.Equal(["Operations"], get.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
            var security = Assert.Single(get.GetProperty("security").EnumerateArray());
            Assert.Empty(security.EnumerateObject());
        }
        Assert.True(document.GetProperty("paths").GetProperty("/health/ready").GetProperty("get").GetProperty("responses").TryGetProperty("503", out _));
    }

    [Fact]
    public async Task In_Development_the_reference_page_and_everything_it_loads_come_from_the_Api_itself()
    {
        using var client = api.Api.CreateClient();

        using var page = await client.GetAsync(new Uri("/reference", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var loaded = System.Text.RegularExpressions.Regex.Matches(html, "(?:src|href)=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(loaded);
        foreach (var source in loaded)
        {
            Assert.DoesNotMatch("^(https?:)?//", source);
            using var asset = await client.GetAsync(new Uri(new Uri(client.BaseAddress!, "/reference/"), source));
            Assert.True(asset.IsSuccessStatusCode, $"{source}: {asset.StatusCode}");
        }
    }

    [Fact]
    public async Task Every_answer_the_limiter_governs_tells_the_caller_its_limit_and_the_probes_do_not()
    {
        using var client = api.Client(Roles.Transfers);

        using var missing = await client.GetAsync(new Uri($"/transfers/{Guid.NewGuid()}", UriKind.Relative));
        using var anonymous = await api.Api.CreateClient().GetAsync(new Uri("/transfers?state=Completed", UriKind.Relative));
        using var probe = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        foreach (var answer in new[] { missing, anonymous })
        {
            Assert.Equal(["5000"], answer.Headers.GetValues("RateLimit-Limit")); // ApiSystem's Api:PermitsPerSecond
            Assert.Equal(["1"], answer.Headers.GetValues("RateLimit-Reset"));
        }
        Assert.False(probe.Headers.Contains("RateLimit-Limit"));
    }

    [Fact]
    public async Task A_browser_of_an_allowed_origin_may_call_and_read_the_answer_and_no_other_origin_may()
    {
        await using var web = api.Api.WithWebHostBuilder(w => w.UseSetting("Api:AllowedOrigins:0", "https://wallet.example"));
        using var client = web.CreateClient();

        async Task<HttpResponseMessage> Preflight(string origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Options, new Uri("/transfers", UriKind.Relative));
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type,idempotency-key");
            return await client.SendAsync(request);
        }
        using var allowed = await Preflight("https://wallet.example");
        using var other = await Preflight("https://elsewhere.example");
        using var quiet = await api.Api.CreateClient().SendAsync(new HttpRequestMessage(HttpMethod.Options, new Uri("/transfers", UriKind.Relative))
        {
            Headers = { { "Origin", "https://wallet.example" }, { "Access-Control-Request-Method", "POST" } },
        });

        Assert.Equal(["https://wallet.example"], allowed.Headers.GetValues("Access-Control-Allow-Origin"));
        Assert.Contains("idempotency-key", string.Join(",", allowed.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(quiet.Headers.Contains("Access-Control-Allow-Origin"), "no origin is allowed unless configured");
    }

    [Fact]
    public async Task The_reference_page_is_not_served_where_it_is_switched_off()
    {
        await using var quiet = api.Api.WithWebHostBuilder(web => web.UseSetting("Api:ReferencePage", "false"));
        using var client = quiet.CreateClient();

        using var page = await client.GetAsync(new Uri("/reference", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, page.StatusCode);
        using var document = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.True(document.IsSuccessStatusCode);
    }

    [Fact]
    public async Task In_a_real_browser_the_reference_page_shows_the_operations_and_loads_nothing_from_elsewhere()
    {
        await using var web = ConsoleBrowser.OnKestrel(api);
        var site = ConsoleBrowser.Site(web);
        using var browser = ConsoleBrowser.Chromium();

        browser.Navigate().GoToUrl($"{site}/reference");

        // The page renders from the document: the operations of the first tag are listed, the other tags named.
        var text = "";
        await Saga.Testing.Eventually.Until(() =>
        {
            text = (string)((OpenQA.Selenium.IJavaScriptExecutor)browser).ExecuteScript("return document.body.innerText")!;
            return Task.FromResult(text.Contains("Open an account", StringComparison.Ordinal));
        }, "the reference page lists the operations", every: TimeSpan.FromMilliseconds(200));
        Assert.Contains("Saga transfers", text, StringComparison.Ordinal);
        Assert.Contains("Transfers", text, StringComparison.Ordinal);
        browser.GetScreenshot().SaveAsFile(Path.Combine(ConsoleBrowser.Screenshots, "reference.png"));
        var loaded = ((System.Collections.ObjectModel.ReadOnlyCollection<object>)((OpenQA.Selenium.IJavaScriptExecutor)browser)!
            .ExecuteScript("return performance.getEntriesByType('resource').map(e => e.name)")!).Cast<string>().ToList();
        Assert.Contains(loaded, url => url.EndsWith("/openapi/v1.json", StringComparison.Ordinal));
        Assert.All(loaded, url => Assert.StartsWith(site, url, StringComparison.Ordinal));
        Assert.Empty(browser.Manage().Logs.GetLog(OpenQA.Selenium.LogType.Browser).Where(e => e.Level >= OpenQA.Selenium.LogLevel.Severe).Select(e => e.Message));
    }
}
