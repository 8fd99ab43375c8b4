using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Saga.Components.Security;
using Saga.Testing;

namespace Saga.Api.Tests;

/// <summary>The Api in process (WebApplicationFactory) in front of the real hosts and servers.</summary>
public sealed class ApiSystem : IAsyncLifetime
{
    public SagaSystem System { get; } = new();
    public WebApplicationFactory<Program> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await System.InitializeAsync();
        Api = For(System, permitsPerSecond: 5000);
    }

    public static WebApplicationFactory<Program> For(SagaSystem system, int permitsPerSecond, int? maxWaitingTransfers = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Development");
            if (maxWaitingTransfers is { } waiting)
            {
                web.UseSetting("Api:MaxWaitingTransfers", waiting.ToString());
            }
            web.UseSetting("RabbitMq:VirtualHost", system.Name);
            web.UseSetting("Postgres:Database", system.Name);
            web.UseSetting("Api:PermitsPerSecond", permitsPerSecond.ToString());
            foreach (var (key, value) in system.Traces.Environment)
            {
                web.UseSetting(key, value);
            }
            foreach (var key in new[] { "Host", "Port" })
            {
                if (Environment.GetEnvironmentVariable("RabbitMq__" + key) is { Length: > 0 } r) { web.UseSetting("RabbitMq:" + key, r); }
                if (Environment.GetEnvironmentVariable("Postgres__" + key) is { Length: > 0 } p) { web.UseSetting("Postgres:" + key, p); }
            }
            // The Api's own service account, as deployed, never the administrator's.
            foreach (var (key, value) in system.Accounts.Api.Environment)
            {
                web.UseSetting(key.Replace("__", ":"), value);
            }
        });

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await System.DisposeAsync();
    }

    public HttpClient Client(params string[] roles) => Client(Api, Tester, roles);

    public static HttpClient Client(WebApplicationFactory<Program> api, string subject, params string[] roles)
    {
        var client = api.CreateClient();
        if (roles.Length > 0)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DevelopmentTokens.Create(subject, roles, TimeSpan.FromHours(1)));
        }
        return client;
    }

    /// <summary>A client whose token, signed with the development key, carries exactly <paramref name="claims"/> and no role unless given.</summary>
    public static HttpClient ClientWithClaims(WebApplicationFactory<Program> api, params (string Type, string Value)[] claims)
    {
        var options = new AuthOptions { SigningKey = DevelopmentKey.Load() };
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            Subject = new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value))),
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(options.Key, SecurityAlgorithms.HmacSha256),
        });
        var client = api.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient Operator => Client(Roles.Operator);
    public HttpClient Transfers => Client(Roles.Transfers);

    /// <summary>The sub of <see cref="Client(string[])"/>'s tokens, and so of <see cref="Operator"/> and <see cref="Transfers"/>.</summary>
    public const string Tester = "tester";

    /// <summary>Opens an account owned by <paramref name="owner"/>, by default the sub of <see cref="Transfers"/>.</summary>
    public async Task<string> OpenAccount(string ledger, string name, decimal balance, string owner = Tester)
    {
        var id = $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
        var response = await Operator.PostAsJsonAsync($"/ledgers/{ledger}/accounts", new { accountId = id, openingBalance = balance, owner });
        Assert.Equal(global::System.Net.HttpStatusCode.Created, response.StatusCode);
        return id;
    }

    public static HttpRequestMessage Post(string path, object body, string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return request;
    }

    /// <summary>A transfer's body, from ledger A to ledger B.</summary>
    public static object Transfer(string from, string to, object amount) =>
        new { from = new { ledger = "A", accountId = from }, to = new { ledger = "B", accountId = to }, amount };

    /// <summary>Polls <paramref name="location"/> as <paramref name="client"/> until the transfer is in <paramref name="state"/>.</summary>
    public static async Task<JsonElement> UntilState(HttpClient client, string location, string state)
    {
        JsonElement? body = null;
        var done = await Eventually.Until(async () =>
        {
            var response = await client.GetAsync(location);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                body = await response.Content.ReadFromJsonAsync<JsonElement>();
            }
            return body;
        }, last => last?.GetProperty("state").GetString() == state, $"{location} reached {state}", TimeSpan.FromSeconds(30),
            last => last?.ToString() ?? "not found", every: TimeSpan.FromMilliseconds(50));
        return done!.Value;
    }

    /// <summary>Asserts a problem-details response with <paramref name="status"/> and returns its body.</summary>
    public static async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
