using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Saga.Api.Endpoints;
using Saga.Components.Security;
using Saga.Testing;

namespace Saga.Api.Tests;

/// <summary>What the Api accepts at its edge (issue 16, "Input"), tried as a careless client and an attacker would.</summary>
public sealed class Input_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private const string Json = "application/json";

    private static string Transfer(string from = "alice", string to = "bob", string amount = "1", string fromLedger = "A") =>
        $$"""{"from":{"ledger":"{{fromLedger}}","accountId":"{{from}}"},"to":{"ledger":"B","accountId":"{{to}}"},"amount":{{amount}}}""";

    private static string Opening(string accountId = "alice", string balance = "10") => $$"""{"accountId":"{{accountId}}","openingBalance":{{balance}},"owner":"{{ApiSystem.Tester}}"}""";

    private static HttpRequestMessage Request(HttpMethod method, string path, string? body, string? contentType, string? idempotencyKey = null, Encoding? encoding = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent((encoding ?? Encoding.UTF8).GetBytes(body));
            if (contentType is not null)
            {
                Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType), contentType);
            }
        }
        if (idempotencyKey is not null)
        {
            Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey), idempotencyKey);
        }
        return request;
    }

    private static string Key() => "k-" + Guid.NewGuid();

    /// <summary>An odd request, the status it must get, and the field its problem must name (if any).</summary>
    public sealed record Odd(string What, string Role, HttpMethod Method, string Path, string? Body, string? ContentType, string? Key, HttpStatusCode Expected,
        string? Field = null, Encoding? Encoding = null);

    private static IEnumerable<Odd> OddRequests()
    {
        var post = HttpMethod.Post;
        var get = HttpMethod.Get;
        var t = Roles.Transfers;
        var o = Roles.Operator;
        var bad = HttpStatusCode.BadRequest;
        var repair = $"/transfers/{Guid.NewGuid()}/refund";

        // Methods the routes do not take.
        yield return new("PUT /transfers", t, HttpMethod.Put, "/transfers", Transfer(), Json, Key(), HttpStatusCode.MethodNotAllowed);
        yield return new("DELETE a transfer", t, HttpMethod.Delete, $"/transfers/{Guid.NewGuid()}", null, null, null, HttpStatusCode.MethodNotAllowed);
        yield return new("PATCH an account", o, HttpMethod.Patch, "/ledgers/A/accounts/alice", "{}", Json, null, HttpStatusCode.MethodNotAllowed);
        yield return new("GET a repair", o, get, repair, null, null, null, HttpStatusCode.MethodNotAllowed);
        yield return new("OPTIONS /transfers", t, HttpMethod.Options, "/transfers", null, null, null, HttpStatusCode.MethodNotAllowed);
        yield return new("a transfer id that is not a guid", t, get, "/transfers/not-a-guid", null, null, null, HttpStatusCode.NotFound);

        // Content types: application/json only, utf-8 if a charset is named.
        foreach (var (path, body, role, key) in new[] { ("/transfers", Transfer(), t, Key()), ("/ledgers/A/accounts", Opening(), o, null), (repair, """{"reason":"x"}""", o, null) })
        {
            yield return new($"no Content-Type on POST {path}", role, post, path, body, null, key, HttpStatusCode.UnsupportedMediaType);
            yield return new($"text/plain on POST {path}", role, post, path, body, "text/plain", key, HttpStatusCode.UnsupportedMediaType);
            yield return new($"form on POST {path}", role, post, path, body, "application/x-www-form-urlencoded", key, HttpStatusCode.UnsupportedMediaType);
            yield return new($"latin-1 JSON on POST {path}", role, post, path, body, "application/json; charset=iso-8859-1", key, HttpStatusCode.UnsupportedMediaType);
            yield return new($"problem+json on POST {path}", role, post, path, body, "application/problem+json", key, HttpStatusCode.UnsupportedMediaType);
            yield return new($"no body on POST {path}", role, post, path, "", Json, key, bad);
        }

        // What is plain still passes: the rules refuse only what they name.
        string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
        yield return new("application/json without a charset", o, post, "/ledgers/A/accounts", Opening(Unique("ann")), "application/json", null, HttpStatusCode.Created);
        yield return new("JSON in capitals", o, post, "/ledgers/A/accounts", Opening(Unique("ben")), "Application/JSON; Charset=UTF-8", null, HttpStatusCode.Created);
        yield return new("every separator", o, post, "/ledgers/A/accounts", Opening(Unique("Dana_x.y") + "-Z"), Json, null, HttpStatusCode.Created);
        yield return new("openingBalance -0 (zero)", o, post, "/ledgers/A/accounts", Opening(Unique("eve"), "-0"), Json, null, HttpStatusCode.Created);
        yield return new("three dots are an id", t, get, "/ledgers/A/accounts/...", null, null, null, HttpStatusCode.NotFound);
        yield return new("limit=007", t, get, "/transfers?state=Completed&limit=007", null, null, null, HttpStatusCode.OK);
        yield return new("a cursor the Api returned", t, get, $"/transfers?state=Completed&after={Uri.EscapeDataString(TransferCursor.At(DateTimeOffset.UtcNow))}", null, null, null, HttpStatusCode.OK);

        // Bodies that are not the object a transfer is.
        foreach (var body in new[] { "[]", "null", "\"x\"", "1", "true", "{", "{\"amount\":1}x", new string('[', 200), "{\"from\":" + string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 101) })
        {
            yield return new($"transfer body {body[..Math.Min(body.Length, 20)]}", t, post, "/transfers", body, Json, Key(), bad);
        }

        // Strict JSON: each property once, by its exact name, numbers as numbers.
        yield return new("amount twice", t, post, "/transfers", Transfer().Replace("\"amount\":1", "\"amount\":3,\"amount\":7"), Json, Key(), bad, "amount");
        yield return new("accountId twice", t, post, "/transfers", Transfer().Replace("\"accountId\":\"alice\"", "\"accountId\":\"alice\",\"accountId\":\"eve\""), Json, Key(), bad, "from.accountId");
        yield return new("Amount for amount", t, post, "/transfers", Transfer().Replace("\"amount\"", "\"Amount\""), Json, Key(), bad, "Amount");
        yield return new("AccountId for accountId", o, post, "/ledgers/A/accounts", Opening().Replace("accountId", "AccountId"), Json, null, bad, "AccountId");
        yield return new("an unknown field", t, post, "/transfers", Transfer().Replace("\"amount\"", "\"fee\":2,\"amount\""), Json, Key(), bad, "fee");
        yield return new("an unknown nested field", t, post, "/transfers", Transfer().Replace("\"ledger\":\"A\"", "\"ledger\":\"A\",\"owner\":\"x\""), Json, Key(), bad, "from.owner");
        yield return new("amount in quotes", t, post, "/transfers", Transfer(amount: "\"10\""), Json, Key(), bad, "amount");
        yield return new("openingBalance in quotes", o, post, "/ledgers/A/accounts", Opening(balance: "\"10\""), Json, null, bad, "openingBalance");
        yield return new("accountId as a number", o, post, "/ledgers/A/accounts", """{"accountId":12,"openingBalance":1}""", Json, null, bad, "accountId");
        yield return new("from as a string", t, post, "/transfers", """{"from":"A/alice","to":{"ledger":"B","accountId":"bob"},"amount":1}""", Json, Key(), bad, "from");
        yield return new("reason as a number", o, post, repair, """{"reason":1}""", Json, null, bad, "reason");
        yield return new("reason twice", o, post, repair, """{"reason":"a","reason":"b"}""", Json, null, bad, "reason");
        yield return new("not UTF-8", t, post, "/transfers", Transfer(from: "caf\u00E9"), Json, Key(), bad, Encoding: Encoding.Latin1);

        // Numbers.
        foreach (var amount in new[] { "1e400", "-1e400", "79228162514264337593543950336", "-0", "0", "1.005", "-5", "1000000000.01", "1e-400" })
        {
            yield return new($"amount {amount}", t, post, "/transfers", Transfer(amount: amount), Json, Key(), bad, "amount");
        }
        foreach (var balance in new[] { "1e400", "10.001", "-1", "-0.01" })
        {
            yield return new($"openingBalance {balance}", o, post, "/ledgers/A/accounts", Opening(balance: balance), Json, null, bad, "openingBalance");
        }

        // Ids: ASCII letters, digits and - _ .; not . or .. alone; at most 64.
        foreach (var id in new[] { "a/b", "..", ".", "a\\u200Bb", "\\u202Eab", "\\uFEFFab", "a\\u00A0b", "a b", "a\\tb", "al\\u0456ce", "caf\\u00E9", "a%2Fb", "a\\\\b", "a@b", "a~b", new string('x', 65) })
        {
            yield return new($"from.accountId {id}", t, post, "/transfers", Transfer(from: id), Json, Key(), bad, "from.accountId");
            yield return new($"opening accountId {id}", o, post, "/ledgers/A/accounts", Opening(accountId: id), Json, null, bad, "accountId");
        }
        yield return new("a ledger with a zero-width space", t, post, "/transfers", Transfer(fromLedger: "A\\u200B"), Json, Key(), bad, "from.ledger");
        foreach (var id in new[] { "a%2Fb", "a%E2%80%8Bb", "%E2%80%AEab", "%EF%BB%BFab", "a%C2%A0b", "a%20b", "a%40b", new string('x', 65) })
        {
            yield return new($"account path {id}", t, get, $"/ledgers/A/accounts/{id}", null, null, null, bad, "accountId");
        }
        // Clients collapse dot segments (RFC 3986): . and .. never reach an endpoint as ids, so no account may have them.
        yield return new("an account path of ..", t, get, "/ledgers/A/accounts/%2E%2E", null, null, null, HttpStatusCode.NotFound);
        yield return new("an account path of .", t, get, "/ledgers/A/accounts/%2E", null, null, null, HttpStatusCode.MethodNotAllowed);
        yield return new("a ledger path with a bidi override", t, get, "/ledgers/%E2%80%AEA/accounts/alice", null, null, null, HttpStatusCode.NotFound);

        // Idempotency-Key: 1 to 128 printable ASCII characters.
        foreach (var (what, key) in new[] { ("missing", null), ("empty", ""), ("129 characters", new string('k', 129)), ("a tab inside", "a\tb"), ("not ASCII", "ключ") })
        {
            yield return new($"Idempotency-Key {what}", t, post, "/transfers", Transfer(), Json, key, bad, "Idempotency-Key");
        }

        // The listing's query.
        foreach (var limit in new[] { "abc", "1.5", "1e2", "", "-1", "0", "201", "2147483648", "99999999999999999999", "+5", "%205", "0x10" })
        {
            yield return new($"limit={limit}", t, get, $"/transfers?state=Completed&limit={limit}", null, null, null, bad, "limit");
        }
        yield return new("limit twice", t, get, "/transfers?state=Completed&limit=1&limit=2", null, null, null, bad, "limit");
        yield return new("no state", t, get, "/transfers?limit=5", null, null, null, bad, "state");
        yield return new("state in other case", t, get, "/transfers?state=completed", null, null, null, bad, "state");
        yield return new("state twice", t, get, "/transfers?state=Completed&state=RolledBack", null, null, null, bad, "state");
        yield return new("state empty", t, get, "/transfers?state=", null, null, null, bad, "state");
        yield return new("after empty", t, get, "/transfers?state=Completed&after=", null, null, null, bad, "after");
        yield return new("after not base64", t, get, "/transfers?state=Completed&after=%00%FF", null, null, null, bad, "after");
        yield return new("after too long", t, get, $"/transfers?state=Completed&after={new string('A', 4000)}", null, null, null, bad, "after");
        yield return new("after twice", t, get, "/transfers?state=Completed&after=a&after=b", null, null, null, bad, "after");
        yield return new("an unknown parameter", t, get, "/transfers?state=Completed&limt=5", null, null, null, bad, "limt");
        yield return new("Limit for limit", t, get, "/transfers?state=Completed&Limit=5", null, null, null, bad, "Limit");
    }

    [Fact]
    public async Task No_odd_request_is_a_500_each_gets_its_4xx_naming_the_field_and_plain_ones_still_pass()
    {
        var clients = new Dictionary<string, HttpClient> { [Roles.Transfers] = api.Transfers, [Roles.Operator] = api.Operator };
        var wrong = new List<string>();

        foreach (var odd in OddRequests())
        {
            var response = await clients[odd.Role].SendAsync(Request(odd.Method, odd.Path, odd.Body, odd.ContentType, odd.Key, odd.Encoding));
            var body = await response.Content.ReadAsStringAsync();
            var named = odd.Field is null || (response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                && JsonDocument.Parse(body).RootElement.TryGetProperty("errors", out var errors) && errors.TryGetProperty(odd.Field, out _));
            if (response.StatusCode != odd.Expected || !named)
            {
                wrong.Add($"{odd.What}: {(int)response.StatusCode}, expected {(int)odd.Expected}{(odd.Field is null ? "" : $" naming {odd.Field}")}: {body}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task A_repeated_property_is_refused_where_the_last_one_used_to_win_and_the_key_stays_free()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var key = Key();

        var refused = await api.Transfers.SendAsync(Request(HttpMethod.Post, "/transfers", Transfer(alice, bob, "3,\"amount\":7"), Json, key));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("amount appears more than once", await refused.Content.ReadAsStringAsync());
        // Nothing was recorded under the key: the same key with one amount is a new transfer, not a conflict.
        var accepted = await api.Transfers.SendAsync(Request(HttpMethod.Post, "/transfers", Transfer(alice, bob, "3"), Json, key));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var location = accepted.Headers.Location!.ToString();
        await Eventually.Until(async () =>
        {
            var transfer = await api.Transfers.GetAsync(location);
            return transfer.IsSuccessStatusCode ? (await transfer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString() : null;
        }, state => state == "Completed", $"{location} completed", TimeSpan.FromSeconds(30), every: TimeSpan.FromMilliseconds(50));
        Assert.Equal(97m, (await api.Transfers.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}")).GetProperty("balance").GetDecimal());
    }

    [Theory]
    [InlineData("26000", true)] // a pooled connection's prepared statement, gone with the server that restarted (seen under chaos)
    [InlineData("57P01", true)]
    [InlineData("08006", true)]
    [InlineData("23505", false)]
    [InlineData("42P01", false)]
    public void PostgreSQL_away_or_just_restarted_is_503_however_deep_it_is_wrapped_and_a_real_fault_stays_a_500(string sqlState, bool away)
    {
        var wrapped = new InvalidOperationException("Marten Command Failure", new Npgsql.PostgresException("failed", "ERROR", "ERROR", sqlState));

        Assert.Equal(away, Http.DatabaseAway(wrapped));
        Assert.Equal(away ? 503 : 500, Http.Exceptions.StatusCodeSelector!(wrapped));
    }

    [Fact]
    public async Task A_ledger_or_the_coordinator_that_does_not_answer_is_503_with_Retry_After_not_500()
    {
        await using var impatient = ApiSystem.For(api.System, permitsPerSecond: 5000).WithWebHostBuilder(web => web.UseSetting("Api:RequestTimeout", "00:00:01"));
        var reader = ApiSystem.Client(impatient, ApiSystem.Tester, Roles.Transfers);
        var repairer = ApiSystem.Client(impatient, "olga", Roles.Operator);
        await SagaSystem.Freeze(api.System.LedgerA);
        await SagaSystem.Freeze(api.System.Coordinator);
        try
        {
            var responses = new[]
            {
                await reader.GetAsync("/ledgers/A/accounts/alice"),
                await repairer.SendAsync(Request(HttpMethod.Post, "/ledgers/A/accounts", Opening("frozen-" + Guid.NewGuid().ToString("N")[..6]), Json)),
                await repairer.SendAsync(Request(HttpMethod.Post, $"/transfers/{Guid.NewGuid()}/resolve", """{"reason":"checked by hand"}""", Json)),
            };

            foreach (var response in responses)
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
                Assert.Contains("again", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
            }
        }
        finally
        {
            await SagaSystem.Thaw(api.System.Coordinator);
            await SagaSystem.Thaw(api.System.LedgerA);
        }
    }
}
