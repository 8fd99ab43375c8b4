using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Net.Http.Headers;
using Saga.Api.OperatorConsole;
using Saga.Components.Security;
using static Saga.Api.Tests.ConsoleBrowser;

namespace Saga.Api.Tests;

/// <summary>
/// The console's sign-in with the identity provider at Auth:Authority, walked as a browser without scripts walks it
/// (cookies kept, no redirect followed) against a fake provider in the test process.
/// </summary>
public sealed class ConsoleSignIn_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private const string ClientId = "saga-console";

    [Fact]
    public async Task With_an_authority_the_console_signs_in_by_the_code_flow_with_PKCE_into_a_strict_cookie_no_longer_than_the_id_token()
    {
        await using var provider = await FakeProvider.Start();
        await using var web = Api(provider);
        var browser = Browser(web);

        var away = await browser.GetAsync("/console");
        Assert.Equal(HttpStatusCode.Redirect, away.StatusCode);
        Assert.StartsWith("/console/sign-in", away.Headers.Location?.PathAndQuery);
        Assert.Contains("<a class=\"button\" href=\"/console/sign-in/provider\">Sign in with provider.test</a>", await Html(browser, "/console/sign-in"));

        var challenge = await browser.GetAsync("/console/sign-in/provider");
        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var authorize = challenge.Headers.Location!;
        Assert.Equal("https://provider.test/authorize", authorize.GetLeftPart(UriPartial.Path));
        var asked = QueryHelpers.ParseQuery(authorize.Query);
        Assert.Equal("code", asked["response_type"]);
        Assert.Equal("S256", asked["code_challenge_method"]);
        Assert.Equal(ClientId, asked["client_id"]);
        Assert.Equal("http://localhost/console/signin-oidc", asked["redirect_uri"]);
        // The cookies that bind the way back to this browser: Lax to ride the provider's redirect, scoped to the callback.
        var binding = Cookies(challenge).Where(c => c.Name.Value!.StartsWith(".AspNetCore.")).ToList();
        Assert.Equal(2, binding.Count);
        Assert.All(binding, c =>
        {
            Assert.True(c.HttpOnly);
            Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Lax, c.SameSite);
            Assert.Equal("/console/signin-oidc", c.Path.Value);
        });

        var back = await provider.Authorize(authorize);
        Assert.StartsWith("http://localhost/console/signin-oidc?", back.ToString());
        var callback = await browser.GetAsync(back);

        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Equal("0; url=/console", callback.Headers.GetValues("Refresh").Single());
        var cookie = Cookies(callback).Single(c => c.Name == "saga-console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Strict, cookie.SameSite);
        Assert.Equal("/console", cookie.Path.Value);
        Assert.Equal(provider.LastIdTokenExpires, cookie.Expires?.UtcDateTime);
        Assert.Contains("olga (operator)", await Html(browser, "/console"));
        Assert.True(provider.VerifiedPkce);
    }

    [Fact]
    public async Task A_provider_user_with_neither_role_gets_a_403_page_and_no_cookie()
    {
        await using var provider = await FakeProvider.Start();
        provider.Roles = [];
        await using var web = Api(provider);
        var browser = Browser(web);

        var callback = await SignIn(browser, provider);

        Assert.Equal(HttpStatusCode.Forbidden, callback.StatusCode);
        Assert.Contains("neither the transfers nor the operator role", await callback.Content.ReadAsStringAsync());
        Assert.DoesNotContain(Cookies(callback), c => c.Name == "saga-console");
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/console")).StatusCode);
    }

    [Fact]
    public async Task A_sign_in_cancelled_at_the_provider_gets_a_page_that_says_so()
    {
        await using var provider = await FakeProvider.Start();
        provider.Error = "access_denied";
        await using var web = Api(provider);
        var browser = Browser(web);

        var callback = await SignIn(browser, provider);

        Assert.Equal(HttpStatusCode.Unauthorized, callback.StatusCode);
        Assert.Equal("text/html", callback.Content.Headers.ContentType?.MediaType);
        Assert.Contains("provider.test did not sign you in: the sign-in was cancelled or refused there.", await callback.Content.ReadAsStringAsync());
        Assert.DoesNotContain(Cookies(callback), c => c.Name == "saga-console");
    }

    public static TheoryData<string, HttpStatusCode, string> Refusals => new()
    {
        { "an id token for another client", HttpStatusCode.Unauthorized, "The console refused the answer from provider.test" },
        { "an id token without sub", HttpStatusCode.Unauthorized, "The console refused the answer from provider.test" },
        { "a server error at the provider", HttpStatusCode.BadGateway, "provider.test answered the sign-in with an error (server_error)" },
        { "a callback in another browser", HttpStatusCode.Unauthorized, "The console refused the answer from provider.test" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_sign_in_gets_a_clear_page_and_no_cookie(string refusal, HttpStatusCode status, string says)
    {
        await using var provider = await FakeProvider.Start();
        switch (refusal)
        {
            case "an id token for another client": provider.Audience = "someone-else"; break;
            case "an id token without sub": provider.Subject = null; break;
            case "a server error at the provider": provider.Error = "server_error"; break;
        }
        await using var web = Api(provider);
        var browser = Browser(web);

        var callback = refusal == "a callback in another browser"
            ? await Browser(web).GetAsync(await provider.Authorize((await browser.GetAsync("/console/sign-in/provider")).Headers.Location!))
            : await SignIn(browser, provider);

        Assert.Equal(status, callback.StatusCode);
        Assert.Equal("text/html", callback.Content.Headers.ContentType?.MediaType);
        Assert.Contains(says, WebUtility.HtmlDecode(await callback.Content.ReadAsStringAsync()));
        Assert.DoesNotContain(Cookies(callback), c => c.Name == "saga-console");
    }

    private WebApplicationFactory<Program> Api(FakeProvider provider) => ApiSystem.For(api.System, permitsPerSecond: 5000).WithWebHostBuilder(web =>
    {
        web.UseSetting("Auth:Authority", FakeProvider.Issuer);
        web.UseSetting("Auth:Console:ClientId", ClientId);
        // Both handlers reach the provider in the test process, the bearer handler too.
        web.ConfigureTestServices(services => services
            .Configure<OpenIdConnectOptions>(ConsoleProvider.Scheme, o => o.BackchannelHttpHandler = provider.Handler())
            .Configure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o => o.BackchannelHttpHandler = provider.Handler()));
    });

    private static HttpClient Browser(WebApplicationFactory<Program> web) =>
        web.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>Sign-in page's link → the provider → back to the callback: the callback's response.</summary>
    private static async Task<HttpResponseMessage> SignIn(HttpClient browser, FakeProvider provider)
    {
        var challenge = await browser.GetAsync("/console/sign-in/provider");
        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        return await browser.GetAsync(await provider.Authorize(challenge.Headers.Location!));
    }

    private static IList<SetCookieHeaderValue> Cookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues(HeaderNames.SetCookie, out var values) ? SetCookieHeaderValue.ParseList([.. values]) : [];
}

/// <summary>
/// An OpenID provider, just enough of one: discovery, keys, an authorize endpoint that signs in <see cref="Subject"/>
/// at once (or answers <see cref="Error"/>), and a token endpoint that checks PKCE and answers with an RS256 id token.
/// </summary>
internal sealed class FakeProvider : IAsyncDisposable
{
    public const string Issuer = "https://provider.test/";

    private readonly WebApplication _app;
    private readonly RsaSecurityKey _key = new(RSA.Create(2048)) { KeyId = "fake-provider" };
    private readonly ConcurrentDictionary<string, Grant> _grants = new();

    private sealed record Grant(string ClientId, string RedirectUri, string Nonce, string Challenge);

    public string? Subject { get; set; } = "olga";
    public string[] Roles { get; set; } = [Saga.Components.Security.Roles.Operator];
    /// <summary>The id token's aud; by default the client id that asked.</summary>
    public string? Audience { get; set; }
    /// <summary>An error code for /authorize to answer with instead of a code.</summary>
    public string? Error { get; set; }
    public DateTime? LastIdTokenExpires { get; private set; }
    public bool VerifiedPkce { get; private set; }

    private FakeProvider(WebApplication app) => _app = app;

    public static async Task<FakeProvider> Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        var provider = new FakeProvider(builder.Build());
        provider.Map(provider._app);
        await provider._app.StartAsync();
        return provider;
    }

    public HttpMessageHandler Handler() => _app.GetTestServer().CreateHandler();

    /// <summary>The browser at the provider's authorize endpoint: where it is sent back to.</summary>
    public async Task<Uri> Authorize(Uri authorize)
    {
        using var browser = _app.GetTestServer().CreateClient();
        var response = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response.Headers.Location!;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["authorization_endpoint"] = Issuer + "authorize",
            ["token_endpoint"] = Issuer + "token",
            ["jwks_uri"] = Issuer + "jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
        }));
        app.MapGet("/jwks", () =>
        {
            var parameters = _key.Rsa.ExportParameters(false);
            return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = _key.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) } } });
        });
        app.MapGet("/authorize", (HttpRequest request) =>
        {
            var q = request.Query;
            var back = q["redirect_uri"].ToString();
            if (Error is { } error)
            {
                return Results.Redirect(QueryHelpers.AddQueryString(back, new Dictionary<string, string?> { ["error"] = error, ["state"] = q["state"] }));
            }
            Assert.Equal("code", q["response_type"]);
            Assert.Equal("S256", q["code_challenge_method"]);
            var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16));
            _grants[code] = new Grant(q["client_id"].ToString(), back, q["nonce"].ToString(), q["code_challenge"].ToString());
            return Results.Redirect(QueryHelpers.AddQueryString(back, new Dictionary<string, string?> { ["code"] = code, ["state"] = q["state"] }));
        });
        app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            if (form["grant_type"] != "authorization_code" || !_grants.TryRemove(form["code"].ToString(), out var grant)
                || form["redirect_uri"] != grant.RedirectUri || form["client_id"] != grant.ClientId
                || Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString()))) != grant.Challenge)
            {
                return Results.Json(new { error = "invalid_grant" }, statusCode: StatusCodes.Status400BadRequest);
            }
            VerifiedPkce = true;
            var now = DateTime.UtcNow;
            var expires = now.AddMinutes(10);
            var claims = new Dictionary<string, object> { ["nonce"] = grant.Nonce };
            if (Subject is { } sub)
            {
                claims["sub"] = sub;
            }
            if (Roles.Length > 0)
            {
                claims["role"] = Roles;
            }
            var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = Issuer,
                Audience = Audience ?? grant.ClientId,
                Claims = claims,
                IssuedAt = now,
                NotBefore = now,
                Expires = expires,
                SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
            });
            LastIdTokenExpires = DateTime.UnixEpoch.AddSeconds((long)(expires - DateTime.UnixEpoch).TotalSeconds);
            return Results.Json(new { id_token = idToken, access_token = "opaque-" + Guid.NewGuid(), token_type = "Bearer", expires_in = 600 });
        });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
