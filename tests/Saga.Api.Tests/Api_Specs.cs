using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Saga.Components.Security;
using Saga.Contracts;
using Saga.Testing;
using static Saga.Api.Tests.ApiSystem;

namespace Saga.Api.Tests;

public sealed class Api_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    [Fact]
    public async Task A_client_opens_accounts_transfers_and_watches_the_transfer_complete_and_its_history()
    {
        var alice = await api.OpenAccount("A", "alice", 1000m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var client = api.Transfers;

        var response = await client.SendAsync(Post("/transfers", Transfer(alice, bob, 100.25m), "key-" + Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = accepted.GetProperty("transferId").GetGuid();
        Assert.Equal($"/transfers/{id}", response.Headers.Location?.ToString());
        var done = await UntilState(client, $"/transfers/{id}", TransferStates.Completed);
        Assert.Equal(100.25m, done.GetProperty("amount").GetDecimal());
        Assert.Equal(alice, done.GetProperty("from").GetProperty("accountId").GetString());

        var events = await client.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events");
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested", "CreditConfirmed"], events!.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal([1L, 2L, 3L, 4L], events!.Select(e => e.GetProperty("version").GetInt64()));
        var balance = await client.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}");
        Assert.Equal(899.75m, balance.GetProperty("balance").GetDecimal());
        Assert.Equal(100.25m, (await client.GetFromJsonAsync<JsonElement>($"/ledgers/B/accounts/{bob}")).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task One_trace_follows_a_transfer_from_the_Api_through_the_coordinator_and_both_ledgers()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var request = Post("/transfers", Transfer(alice, bob, 1m), "k-" + Guid.NewGuid());
        request.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");

        var response = await api.Transfers.SendAsync(request);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);

        string[] services = ["saga-api", "saga-ledger-a", "saga-coordinator", "saga-ledger-b"];
        var seen = await Eventually.Until(() => Task.FromResult(api.System.Traces.ServicesIn(traceId, services)), s => s.Count == services.Length,
            $"every service exported a span of trace {traceId}", TimeSpan.FromSeconds(20), every: TimeSpan.FromMilliseconds(100));
        Assert.Equal(services.Order(), seen.Order());
    }

    [Fact]
    public async Task Opening_an_account_is_idempotent_and_a_different_balance_conflicts()
    {
        var id = "carol-" + Guid.NewGuid().ToString("N")[..8];

        var first = await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m, owner = Tester });
        var again = await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m, owner = Tester });
        var other = await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 11m, owner = Tester });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        await Problem(other, HttpStatusCode.Conflict);
        await Problem(await api.Transfers.GetAsync("/ledgers/A/accounts/nobody-here"), HttpStatusCode.NotFound);
        await Problem(await api.Transfers.GetAsync("/ledgers/Z/accounts/x"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_transfer_and_another_body_conflicts()
    {
        var alice = await api.OpenAccount("A", "alice", 1000m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var key = "key-" + Guid.NewGuid();
        var client = api.Transfers;

        var posts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.SendAsync(Post("/transfers", Transfer(alice, bob, 10m), key))));
        var ids = await Task.WhenAll(posts.Select(async p =>
        {
            Assert.Equal(HttpStatusCode.Accepted, p.StatusCode);
            return (await p.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        }));
        var conflict = await client.SendAsync(Post("/transfers", Transfer(alice, bob, 11m), key));

        Assert.Single(ids.Distinct());
        await Problem(conflict, HttpStatusCode.Conflict);
        await UntilState(client, $"/transfers/{ids[0]}", TransferStates.Completed);
        Assert.Equal(990m, (await client.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}")).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task The_Idempotency_Key_belongs_to_the_callers_sub_not_to_their_display_name()
    {
        var (first, second) = ("sub-" + Guid.NewGuid(), "sub-" + Guid.NewGuid());
        var (pat, patricia) = (await api.OpenAccount("A", "pat", 1000m, owner: first), await api.OpenAccount("A", "patricia", 1000m, owner: second));
        var bob = await api.OpenAccount("B", "bob", 0m);
        var key = "key-" + Guid.NewGuid();
        HttpClient Caller(string sub, string name) => ClientWithClaims(api.Api, ("sub", sub), ("name", name), ("role", Roles.Transfers));

        var mine = await Caller(first, "Pat Smith").SendAsync(Post("/transfers", Transfer(pat, bob, 10m), key));
        var theirs = await Caller(second, "Pat Smith").SendAsync(Post("/transfers", Transfer(patricia, bob, 11m), key));
        var mineRenamed = await Caller(first, "Patricia Smith").SendAsync(Post("/transfers", Transfer(pat, bob, 10m), key));

        var ids = await Task.WhenAll(new[] { mine, theirs, mineRenamed }.Select(async r =>
        {
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        }));
        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal(ids[0], ids[2]);
        await UntilState(api.Transfers, $"/transfers/{ids[0]}", TransferStates.Completed);
        await UntilState(api.Transfers, $"/transfers/{ids[1]}", TransferStates.Completed);
        Assert.Equal((990m, 989m), (await api.System.Balance(new("A", pat)), await api.System.Balance(new("A", patricia))));
    }

    [Fact]
    public async Task A_token_without_a_sub_is_401_whatever_its_name_and_roles()
    {
        var nameless = ClientWithClaims(api.Api, ("name", "Pat Smith"), ("role", Roles.Transfers), ("role", Roles.Operator));

        Assert.Equal(HttpStatusCode.Unauthorized, (await nameless.GetAsync($"/transfers/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await nameless.SendAsync(Post("/transfers", Transfer("a", "b", 1m), "k-" + Guid.NewGuid()))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await nameless.PostAsJsonAsync($"/transfers/{Guid.NewGuid()}/resolve", new { reason = "x" })).StatusCode);
    }

    public static TheoryData<string, string, string> BadBodies => new()
    {
        { "not json", "{ this is not json", "" },
        { "missing fields", "{}", "from" },
        { "zero amount", Body("alice", "bob", "0"), "amount" },
        { "negative amount", Body("alice", "bob", "-5"), "amount" },
        { "three decimals", Body("alice", "bob", "1.005"), "amount" },
        { "absurd amount", Body("alice", "bob", "1000000000000"), "amount" },
        { "id too long", Body(new string('x', 65), "bob", "1"), "from.accountId" },
        { "control character", Body("ali\\u0007ce", "bob", "1"), "from.accountId" },
        { "unknown field", """{"from":{"ledger":"A","accountId":"a"},"to":{"ledger":"B","accountId":"b"},"amount":1,"fee":2}""", "" },
    };

    private static string Body(string from, string to, string amount) =>
        $$"""{"from":{"ledger":"A","accountId":"{{from}}"},"to":{"ledger":"B","accountId":"{{to}}"},"amount":{{amount}}}""";

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_malformed_transfer_gets_400_naming_the_field_and_changes_nothing(string why, string body, string field)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/transfers") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", "bad-" + Guid.NewGuid());

        var problem = await Problem(await api.Transfers.SendAsync(request), HttpStatusCode.BadRequest);

        if (field.Length > 0)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{why}: {problem}");
        }
    }

    [Fact]
    public async Task A_missing_idempotency_key_is_400()
    {
        var problem = await Problem(await api.Transfers.SendAsync(Post("/transfers", Transfer("a", "b", 1m), null)), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task Impossible_transfers_get_422_and_change_nothing()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var client = api.Transfers;

        var same = await client.SendAsync(Post("/transfers", new { from = new { ledger = "A", accountId = alice }, to = new { ledger = "A", accountId = alice }, amount = 1 }, "k-" + Guid.NewGuid()));
        var ledger = await client.SendAsync(Post("/transfers", new { from = new { ledger = "A", accountId = alice }, to = new { ledger = "Q", accountId = "x" }, amount = 1 }, "k-" + Guid.NewGuid()));

        await Problem(same, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("to.ledger", (await Problem(ledger, HttpStatusCode.UnprocessableEntity)).GetProperty("detail").GetString());
        Assert.Equal(100m, (await client.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}")).GetProperty("balance").GetDecimal());
    }

    // The Api does not ask ledger A before it accepts (that wait was two of a transfer's seven messages):
    // the source ledger's local transaction decides, and the transfer ends RolledBack with its reason.
    [Theory]
    [InlineData("unknown", 1, "unknown account")]
    [InlineData("poor", 101, "insufficient funds")]
    public async Task A_transfer_the_source_ledger_cannot_debit_is_accepted_and_ends_rolled_back_with_the_reason(string source, int amount, string reason)
    {
        var alice = source == "poor" ? await api.OpenAccount("A", "poor", 100m) : "ghost-" + Guid.NewGuid().ToString("N")[..6];
        var bob = await api.OpenAccount("B", "bob", 0m);

        var response = await api.Transfers.SendAsync(Post("/transfers", Transfer(alice, bob, amount), "k-" + Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(TransferStates.Prepared, accepted.GetProperty("state").GetString());
        var done = await UntilState(api.Transfers, $"/transfers/{accepted.GetProperty("transferId").GetGuid()}", TransferStates.RolledBack);
        Assert.Equal(reason, done.GetProperty("reason").GetString());
        Assert.Equal(0m, (await api.Transfers.GetFromJsonAsync<JsonElement>($"/ledgers/B/accounts/{bob}")).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/transfers") { Content = new StringContent(new string(' ', 20_000) + "{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", "big-" + Guid.NewGuid());

        await Problem(await api.Transfers.SendAsync(request), HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task An_unknown_destination_needs_attention_and_an_operator_refunds_it_through_the_Api()
    {
        var alice = await api.OpenAccount("A", "alice", 500m);
        var response = await api.Transfers.SendAsync(Post("/transfers", Transfer(alice, "ghost-" + Guid.NewGuid().ToString("N")[..6], 200m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.NeedsAttention);

        var page = await api.Transfers.GetFromJsonAsync<JsonElement>("/transfers?state=NeedsAttention&limit=200");
        Assert.Contains(page.GetProperty("items").EnumerateArray(), t => t.GetProperty("transferId").GetGuid() == id);
        await Problem(await api.Operator.PostAsJsonAsync($"/transfers/{id}/recheck", new { reason = "?" }), HttpStatusCode.Conflict);
        var olga = ClientWithClaims(api.Api, ("sub", "olga"), ("name", "Olga Petrova"), ("role", Roles.Operator));
        var refund = await olga.PostAsJsonAsync($"/transfers/{id}/refund", new { reason = "no such account at B" });

        Assert.Equal(HttpStatusCode.Accepted, refund.StatusCode);
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Refunded);
        Assert.Equal(500m, (await api.Transfers.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}")).GetProperty("balance").GetDecimal());
        var events = await api.Transfers.GetFromJsonAsync<JsonElement[]>($"/transfers/{id}/events");
        var refundEvent = events!.Single(e => e.GetProperty("type").GetString() == "RefundRequested").GetProperty("data");
        Assert.Equal(("olga", "no such account at B"), (refundEvent.GetProperty("operator").GetString(), refundEvent.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Repairs_of_a_transfer_that_does_not_need_attention_conflict_and_an_unknown_one_is_404()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var response = await api.Transfers.SendAsync(Post("/transfers", Transfer(alice, bob, 1m), "k-" + Guid.NewGuid()));
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(api.Transfers, $"/transfers/{id}", TransferStates.Completed);

        foreach (var action in new[] { "retry-credit", "recheck", "refund", "resolve" })
        {
            await Problem(await api.Operator.PostAsJsonAsync($"/transfers/{id}/{action}", new { reason = "test" }), HttpStatusCode.Conflict);
        }
        await Problem(await api.Operator.PostAsJsonAsync($"/transfers/{Guid.NewGuid()}/resolve", new { reason = "test" }), HttpStatusCode.NotFound);
        await Problem(await api.Operator.PostAsJsonAsync($"/transfers/{id}/resolve", new { reason = "" }), HttpStatusCode.BadRequest);
        await Problem(await api.Transfers.GetAsync($"/transfers/{Guid.NewGuid()}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Pages_of_transfers_in_a_state_are_newest_first_with_a_cursor()
    {
        var poor = await api.OpenAccount("A", "poor", 0m);
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            // One after the other: the Api answers before the source ledger rolls a transfer back, and the
            // listing orders by when each transfer last changed.
            var r = await api.Transfers.SendAsync(Post("/transfers", Transfer(poor, "bob", 5m), "k-" + Guid.NewGuid()));
            ids.Add((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid());
            await UntilState(api.Transfers, $"/transfers/{ids[^1]}", TransferStates.RolledBack);
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await api.Transfers.GetFromJsonAsync<JsonElement>($"/transfers?state=RolledBack&limit=2{(cursor is null ? "" : "&after=" + Uri.EscapeDataString(cursor))}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("transferId").GetGuid()));
            cursor = page.GetProperty("next").GetString();
        } while (cursor is not null);

        var mine = seen.Where(ids.Contains).ToList();
        Assert.Equal(Enumerable.Reverse(ids), mine);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        await Problem(await api.Transfers.GetAsync("/transfers?state=Bogus"), HttpStatusCode.BadRequest);
        await Problem(await api.Transfers.GetAsync("/transfers?state=RolledBack&after=nonsense"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Without_a_token_401_with_the_wrong_role_403_and_neither_says_whether_anything_exists()
    {
        var anonymous = ApiSystem.Client(api.Api, "nobody");
        var reader = api.Transfers;

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/transfers/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/ledgers/A/accounts/alice")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(Post("/transfers", Transfer("a", "b", 1m), "k"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync($"/transfers/{Guid.NewGuid()}/refund", new { reason = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = "x", openingBalance = 1 })).StatusCode);
        var forged = anonymous;
        forged.DefaultRequestHeaders.Authorization = new("Bearer", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6Im9wZXJhdG9yIn0.c2lnbmF0dXJl");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/ledgers/A/accounts/alice")).StatusCode);
    }

    [Fact]
    public async Task Health_needs_no_token_and_metrics_are_served()
    {
        var anonymous = ApiSystem.Client(api.Api, "nobody");

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        // Ready only once the bus has connected: run first, this spec can meet the fixture's Api before it has.
        await Eventually.Until(async () => (await anonymous.GetAsync("/health/ready")).StatusCode, s => s == HttpStatusCode.OK,
            "the readiness probe answered 200");
        var metrics = await anonymous.GetStringAsync("/metrics");
        Assert.Contains("saga_error_queue_messages", metrics);
    }

    [Fact]
    public async Task A_flood_of_requests_is_met_with_429_not_a_fallen_host()
    {
        await using var limited = ApiSystem.For(api.System, permitsPerSecond: 5);
        var client = ApiSystem.Client(limited, "flooder", Roles.Transfers);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync($"/transfers/{Guid.NewGuid()}")));

        var refused = Assert.IsType<HttpResponseMessage>(statuses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        // Probes are never limited, even while the caller's bucket is empty...
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await client.GetAsync("/health/ready")).StatusCode);
        // ...and this new Api is ready once its bus has connected (until then its probe answers 503).
        await Eventually.Until(async () => (await client.GetAsync("/health/ready")).StatusCode, s => s == HttpStatusCode.OK,
            "the flooded Api's readiness probe answered 200");
    }

    [Fact]
    public async Task While_too_many_transfers_wait_a_new_one_is_503_with_Retry_After_and_nothing_is_recorded()
    {
        var alice = await api.OpenAccount("A", "alice", 100m);
        var bob = await api.OpenAccount("B", "bob", 0m);
        var key = "k-" + Guid.NewGuid();
        // A limit below any backlog: the half-messages queue is always over it.
        await using var full = ApiSystem.For(api.System, permitsPerSecond: 5000, maxWaitingTransfers: -1);

        var refused = await ApiSystem.Client(full, Tester, Roles.Transfers).SendAsync(Post("/transfers", Transfer(alice, bob, 10m), key));

        await Problem(refused, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        // Nothing was recorded under the key: another body with it is a new transfer, not a conflict.
        var accepted = await api.Transfers.SendAsync(Post("/transfers", Transfer(alice, bob, 20m), key));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await UntilState(api.Transfers, $"/transfers/{(await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid()}", TransferStates.Completed);
        Assert.Equal(80m, (await api.Transfers.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alice}")).GetProperty("balance").GetDecimal());
    }
}
