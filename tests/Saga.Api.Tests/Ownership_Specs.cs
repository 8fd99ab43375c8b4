using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Saga.Components.Security;
using Saga.Contracts;
using static Saga.Api.Tests.ApiSystem;

namespace Saga.Api.Tests;

/// <summary>
/// Accounts belong to their owners: only the owner's transfers debit them, only the owner (and operators)
/// reads them, and a transfer is seen only by who asked for it, the owners of its accounts and operators.
/// Everything else looks exactly as if it did not exist.
/// </summary>
public sealed class Ownership_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private HttpClient As(string sub) => Client(api.Api, sub, Roles.Transfers);

    private static string NewSub(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task A_caller_cannot_debit_an_account_it_does_not_own_and_learns_no_more_than_of_an_unknown_one()
    {
        var (alice, mallory) = (NewSub("alice"), NewSub("mallory"));
        var alices = await api.OpenAccount("A", "alice", 500m, owner: alice);
        var mallorys = await api.OpenAccount("B", "mallory", 0m, owner: mallory);

        var theft = await As(mallory).SendAsync(Post("/transfers", Transfer(alices, mallorys, 100m), "k-" + Guid.NewGuid()));
        var ghost = await As(mallory).SendAsync(Post("/transfers", Transfer("ghost-" + Guid.NewGuid().ToString("N")[..8], mallorys, 100m), "k-" + Guid.NewGuid()));

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted), (theft.StatusCode, ghost.StatusCode));
        var stolen = await UntilState(As(mallory), theft.Headers.Location!.ToString(), TransferStates.RolledBack);
        var unknown = await UntilState(As(mallory), ghost.Headers.Location!.ToString(), TransferStates.RolledBack);
        Assert.Equal(unknown.GetProperty("reason").GetString(), stolen.GetProperty("reason").GetString());
        Assert.Equal((500m, 0m), (await api.System.Balance(new("A", alices)), await api.System.Balance(new("B", mallorys))));
    }

    [Fact]
    public async Task The_owner_debits_its_account_and_an_operator_without_ownership_cannot()
    {
        var (alice, olga) = (NewSub("alice"), NewSub("olga"));
        var alices = await api.OpenAccount("A", "alice", 500m, owner: alice);
        var bobs = await api.OpenAccount("B", "bob", 0m, owner: NewSub("bob"));
        var operatorClient = Client(api.Api, olga, Roles.Transfers, Roles.Operator);

        var paid = await As(alice).SendAsync(Post("/transfers", Transfer(alices, bobs, 100m), "k-" + Guid.NewGuid()));
        var taken = await operatorClient.SendAsync(Post("/transfers", Transfer(alices, bobs, 100m), "k-" + Guid.NewGuid()));

        await UntilState(As(alice), paid.Headers.Location!.ToString(), TransferStates.Completed);
        await UntilState(operatorClient, taken.Headers.Location!.ToString(), TransferStates.RolledBack);
        Assert.Equal((400m, 100m), (await api.System.Balance(new("A", alices)), await api.System.Balance(new("B", bobs))));
    }

    [Fact]
    public async Task An_account_is_read_by_its_owner_and_operators_and_is_404_to_anyone_else_as_if_it_did_not_exist()
    {
        var alice = NewSub("alice");
        var alices = await api.OpenAccount("A", "alice", 70m, owner: alice);

        var own = await As(alice).GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alices}");
        var seen = await api.Operator.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{alices}");
        var foreign = await Problem(await As(NewSub("eve")).GetAsync($"/ledgers/A/accounts/{alices}"), HttpStatusCode.NotFound);
        var missing = await Problem(await As(NewSub("eve")).GetAsync("/ledgers/A/accounts/nobody-at-all"), HttpStatusCode.NotFound);

        Assert.Equal((70m, alice), (own.GetProperty("balance").GetDecimal(), own.GetProperty("owner").GetString()));
        Assert.Equal(alice, seen.GetProperty("owner").GetString());
        Assert.Equal(missing.GetProperty("title").GetString(), foreign.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_transfer_is_seen_by_who_asked_for_it_and_the_owners_of_its_accounts_and_is_404_to_anyone_else()
    {
        var (alice, bob, eve) = (NewSub("alice"), NewSub("bob"), NewSub("eve"));
        var alices = await api.OpenAccount("A", "alice", 500m, owner: alice);
        var bobs = await api.OpenAccount("B", "bob", 0m, owner: bob);
        var response = await As(alice).SendAsync(Post("/transfers", Transfer(alices, bobs, 25m), "k-" + Guid.NewGuid()));
        var location = response.Headers.Location!.ToString();
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transferId").GetGuid();
        await UntilState(As(alice), location, TransferStates.Completed);

        foreach (var reader in new[] { As(alice), As(bob), api.Operator })
        {
            Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync(location)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync($"{location}/events")).StatusCode);
        }
        await Problem(await As(eve).GetAsync(location), HttpStatusCode.NotFound);
        await Problem(await As(eve).GetAsync($"{location}/events"), HttpStatusCode.NotFound);

        bool Listed(JsonElement page) => page.GetProperty("items").EnumerateArray().Any(t => t.GetProperty("transferId").GetGuid() == id);
        Assert.True(Listed(await As(alice).GetFromJsonAsync<JsonElement>("/transfers?state=Completed&limit=200")));
        Assert.True(Listed(await api.Operator.GetFromJsonAsync<JsonElement>("/transfers?state=Completed&limit=200")));
        Assert.False(Listed(await As(eve).GetFromJsonAsync<JsonElement>("/transfers?state=Completed&limit=200")));
    }

    [Fact]
    public async Task An_account_is_opened_for_an_owner_and_opening_it_again_for_another_is_refused()
    {
        var id = "acct-" + Guid.NewGuid().ToString("N")[..10];

        var ownerless = await Problem(await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m }), HttpStatusCode.BadRequest);
        var opened = await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m, owner = "first" });
        var again = await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m, owner = "first" });
        await Problem(await api.Operator.PostAsJsonAsync("/ledgers/A/accounts", new { accountId = id, openingBalance = 10m, owner = "second" }), HttpStatusCode.Conflict);

        Assert.True(ownerless.GetProperty("errors").TryGetProperty("owner", out _));
        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (opened.StatusCode, again.StatusCode));
        Assert.Equal("first", (await api.Operator.GetFromJsonAsync<JsonElement>($"/ledgers/A/accounts/{id}")).GetProperty("owner").GetString());
    }
}
