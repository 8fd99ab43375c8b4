using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Saga.Components.Security;

namespace Saga.Api;

internal static class ApiAuthentication
{
    /// <summary>Clock difference tolerated between the issuer and the Api, on exp and nbf.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>What an authority may sign with: asymmetric algorithms only, never an HMAC or none.</summary>
    public static readonly string[] AuthorityAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <summary>
    /// Bearer tokens from the "Auth" section: an OIDC authority's (its keys only), or HS256 with Auth:SigningKey;
    /// in Development with neither, the checkout's development key. Signed, with exp, at most Auth:MaxLifetime
    /// long, and with a sub. A policy for each of the Api's roles.
    /// </summary>
    public static IServiceCollection AddApiAuthentication(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var authority = auth.Authority is { Length: > 0 };
        if (authority && auth.SigningKey is { Length: > 0 })
        {
            throw new InvalidOperationException("Auth:Authority and Auth:SigningKey are both set: with an authority only its keys are accepted, so remove the key.");
        }
        if (!authority && auth.SigningKey is not { Length: > 0 })
        {
            auth.SigningKey = environment.IsDevelopment()
                ? DevelopmentKey.Load()
                : throw new InvalidOperationException("Neither Auth:Authority nor Auth:SigningKey is set: configure one of them.");
        }
        if (auth.SigningKey is { } key)
        {
            if (Encoding.UTF8.GetByteCount(key) < AuthOptions.MinKeyBytes)
            {
                throw new InvalidOperationException($"Auth:SigningKey is shorter than {AuthOptions.MinKeyBytes} bytes.");
            }
            if (!environment.IsDevelopment() && DevelopmentKey.IsDevelopmentKey(key))
            {
                throw new InvalidOperationException("Auth:SigningKey is a development key: configure a real key or an OIDC authority outside Development.");
            }
        }
        if (auth.MaxLifetime <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Auth:MaxLifetime must be positive.");
        }

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.Authority = authority ? auth.Authority : null;
            // A refused caller learns that it was refused, not why (the reason is in the Api's log).
            o.IncludeErrorDetails = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                // With an authority, the issuer and the keys come from its discovery document, and nothing else.
                ValidIssuer = authority ? null : auth.Issuer,
                ValidAudience = auth.Audience,
                IssuerSigningKey = authority ? null : auth.Key,
                ValidAlgorithms = authority ? AuthorityAlgorithms : [SecurityAlgorithms.HmacSha256],
                RequireSignedTokens = true,
                RequireExpirationTime = true,
                ClockSkew = ClockSkew,
                RoleClaimType = "role",
                NameClaimType = JwtRegisteredClaimNames.Sub,
            };
            o.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    if (Refusal(context.SecurityToken, auth.MaxLifetime, DateTime.UtcNow) is { } reason)
                    {
                        context.Fail(reason);
                    }
                    return Task.CompletedTask;
                },
            };
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Transfers, p => p.RequireRole(Roles.Transfers, Roles.Operator))
            .AddPolicy(Roles.Operator, p => p.RequireRole(Roles.Operator));
        return services;
    }

    // What the framework does not check: a sub (Http.Caller, the caller's identity) and the token's lifetime.
    private static string? Refusal(SecurityToken token, TimeSpan maxLifetime, DateTime now)
    {
        if (token is not JsonWebToken jwt)
        {
            return "The token is not a JWT.";
        }
        if (!jwt.TryGetPayloadValue<string>(JwtRegisteredClaimNames.Sub, out var sub) || string.IsNullOrWhiteSpace(sub))
        {
            return "The token has no sub claim.";
        }
        var from = jwt.IssuedAt != DateTime.MinValue ? jwt.IssuedAt : jwt.ValidFrom;
        if (from == DateTime.MinValue)
        {
            return "The token has neither iat nor nbf: its lifetime is unknown.";
        }
        if (jwt.ValidTo - from > maxLifetime || jwt.ValidTo - now > maxLifetime + ClockSkew)
        {
            return $"The token lives longer than {maxLifetime}.";
        }
        return null;
    }
}
