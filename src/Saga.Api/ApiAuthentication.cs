using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Saga.Components.Security;

namespace Saga.Api;

internal static class ApiAuthentication
{
    /// <summary>
    /// Bearer tokens from the "Auth" section: an OIDC authority in production, the development key locally
    /// (refused outside Development); and a policy for each of the Api's roles.
    /// </summary>
    public static IServiceCollection AddApiAuthentication(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        if (!environment.IsDevelopment() && auth.SigningKey == AuthOptions.DevelopmentSigningKey)
        {
            throw new InvalidOperationException("Auth:SigningKey is the development key: configure a real key or an OIDC authority outside Development.");
        }
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.Authority = auth.Authority;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = auth.Issuer,
                ValidAudience = auth.Audience,
                IssuerSigningKey = auth.Key,
                RoleClaimType = "role",
                NameClaimType = JwtRegisteredClaimNames.Sub,
            };
            // The caller is the sub (Http.Caller): without one a token identifies nobody, so it authenticates nobody.
            o.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    if (context.Principal?.FindFirst(JwtRegisteredClaimNames.Sub)?.Value is not { Length: > 0 })
                    {
                        context.Fail("The token has no sub claim.");
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
}
