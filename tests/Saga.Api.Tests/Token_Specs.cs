using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Saga.Components.Security;

namespace Saga.Api.Tests;

/// <summary>What a bearer token must be for the Api to let its caller in, through the real Api host.</summary>
public sealed class Token_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    private const string Authority = "https://authority.invalid/";

    private static SigningCredentials DevelopmentKeyWith(string algorithm) =>
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(DevelopmentKey.Load())), algorithm);

    /// <summary>A token of role transfers, its times and claims exactly as given (none added by the handler).</summary>
    private static string Token(SigningCredentials? signing, TimeSpan issued, TimeSpan expires, string? sub = "tester", string issuer = "saga-dev",
        bool notBefore = true)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["role"] = Roles.Transfers };
        if (sub is not null)
        {
            claims["sub"] = sub;
        }
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "saga-api",
            Claims = claims,
            IssuedAt = now + issued,
            NotBefore = notBefore ? now + issued : null,
            Expires = now + expires,
            SigningCredentials = signing,
        });
    }

    private static async Task<HttpResponseMessage> Get(WebApplicationFactory<Program> host, string token)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.GetAsync($"/transfers/{Guid.NewGuid()}");
    }

    public static TheoryData<string> Refused => new()
    {
        "expired 60 s ago",
        "unsigned (alg none)",
        "HS384 with the right key",
        "HS512 with the right key",
        "signed with another key",
        "longer than the maximum lifetime",
        "issued in the future, exp further than the maximum lifetime from now",
        "without exp",
        "without iat or nbf",
        "with a blank sub",
    };

    private static string RefusedToken(string kind) => kind switch
    {
        "expired 60 s ago" => Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.FromMinutes(-10), TimeSpan.FromSeconds(-60)),
        "unsigned (alg none)" => Token(null, TimeSpan.Zero, TimeSpan.FromMinutes(10)),
        "HS384 with the right key" => Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha384), TimeSpan.Zero, TimeSpan.FromMinutes(10)),
        "HS512 with the right key" => Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha512), TimeSpan.Zero, TimeSpan.FromMinutes(10)),
        "signed with another key" => Token(new SigningCredentials(new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(64)), SecurityAlgorithms.HmacSha256),
            TimeSpan.Zero, TimeSpan.FromMinutes(10)),
        "longer than the maximum lifetime" => Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.FromMinutes(-1), TimeSpan.FromHours(1)),
        "issued in the future, exp further than the maximum lifetime from now" =>
            Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.FromHours(2), TimeSpan.FromHours(2.5), notBefore: false),
        "without exp" => new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "saga-dev", Audience = "saga-api", IssuedAt = DateTime.UtcNow,
            Claims = new Dictionary<string, object> { ["sub"] = "tester", ["role"] = Roles.Transfers },
            SigningCredentials = DevelopmentKeyWith(SecurityAlgorithms.HmacSha256),
        }),
        "without iat or nbf" => new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "saga-dev", Audience = "saga-api", Expires = DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["sub"] = "tester", ["role"] = Roles.Transfers },
            SigningCredentials = DevelopmentKeyWith(SecurityAlgorithms.HmacSha256),
        }),
        "with a blank sub" => Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.Zero, TimeSpan.FromMinutes(10), sub: " "),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Fact]
    public async Task A_signed_HS256_token_living_at_most_the_maximum_lifetime_lets_its_caller_in()
    {
        var token = Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.Zero, TimeSpan.FromHours(1));

        Assert.Equal(HttpStatusCode.NotFound, (await Get(api.Api, token)).StatusCode);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_token_is_401_and_the_challenge_does_not_say_why_when_it_is(string kind)
    {
        var response = await Get(api.Api, RefusedToken(kind));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).ToString());
    }

    [Fact]
    public async Task With_an_authority_only_its_keys_sign_tokens_not_the_symmetric_key_beside_it()
    {
        var authorityKey = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "authority" };
        // The authority's discovery document, given instead of fetched.
        await using var withAuthority = ApiSystem.For(api.System, permitsPerSecond: 5000).WithWebHostBuilder(web =>
        {
            web.UseSetting("Auth:Authority", Authority);
            web.ConfigureTestServices(services => services.Configure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o =>
            {
                var configuration = new OpenIdConnectConfiguration { Issuer = Authority };
                configuration.SigningKeys.Add(authorityKey);
                o.Configuration = configuration;
            }));
        });

        var fromAuthority = Token(new SigningCredentials(authorityKey, SecurityAlgorithms.RsaSha256), TimeSpan.Zero, TimeSpan.FromMinutes(10), issuer: Authority);
        var withDevelopmentKey = Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.Zero, TimeSpan.FromMinutes(10), issuer: Authority);

        Assert.Equal(HttpStatusCode.NotFound, (await Get(withAuthority, fromAuthority)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(withAuthority, withDevelopmentKey)).StatusCode);
    }

    [Fact]
    public async Task Outside_Development_a_real_key_signs_tokens_and_the_development_key_does_not()
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var production = ApiSystem.For(api.System, permitsPerSecond: 5000).WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production");
            web.UseSetting("Auth:SigningKey", key);
        });
        var signing = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256);

        Assert.Equal(HttpStatusCode.NotFound, (await Get(production, Token(signing, TimeSpan.Zero, TimeSpan.FromMinutes(10)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized,
            (await Get(production, Token(DevelopmentKeyWith(SecurityAlgorithms.HmacSha256), TimeSpan.Zero, TimeSpan.FromMinutes(10)))).StatusCode);
    }

    public static TheoryData<string, string?, string?, string> Unstartable => new()
    {
        { "Production", "development key", null, "development key" },
        { "Staging", "development key", null, "development key" },
        { "Production", "saga-development-signing-key-of-another-checkout-0123456789", null, "development key" },
        { "Production", null, null, "Neither Auth:Authority nor Auth:SigningKey" },
        { "Production", "short-key-of-31-bytes-0123456789"[..31], null, "shorter than 32 bytes" },
        { "Development", "short-key-of-31-bytes-0123456789"[..31], null, "shorter than 32 bytes" },
        { "Production", "a-long-enough-real-key-0123456789abcdef", Authority, "both set" },
    };

    [Theory]
    [MemberData(nameof(Unstartable))]
    public void The_Api_refuses_to_start_with_keys_it_must_not_trust(string environment, string? key, string? authority, string reason)
    {
        using var host = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment(environment);
            web.UseSetting("Auth:SigningKey", key == "development key" ? DevelopmentKey.Load() : key ?? "");
            web.UseSetting("Auth:Authority", authority ?? "");
        });

        var error = Assert.ThrowsAny<Exception>(() => host.CreateClient());
        Assert.Contains(reason, error.ToString());
    }

    [Fact]
    public void A_development_key_is_random_per_checkout_and_marked_as_one()
    {
        var key = DevelopmentKey.Load();

        Assert.True(DevelopmentKey.IsDevelopmentKey(key));
        Assert.True(Encoding.UTF8.GetByteCount(key) >= AuthOptions.MinKeyBytes + DevelopmentKey.Prefix.Length);
        Assert.Equal(key, DevelopmentKey.Load());
    }
}
