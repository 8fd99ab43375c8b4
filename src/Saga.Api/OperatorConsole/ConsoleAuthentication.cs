using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Saga.Components.Security;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// The console's own cookie, for its pages only: a browser sends it by itself, so it must never authenticate the
/// JSON API (that would open the API to cross-site requests). The API's default scheme stays the bearer token,
/// and the cookie is scoped to <see cref="ConsoleEndpoints.Root"/>. With an OIDC authority and a console client
/// there, the cookie is made by the authorization code flow (<see cref="ConsoleProvider"/>).
/// </summary>
internal static class ConsoleAuthentication
{
    public const string Scheme = "Console";
    public const string Viewer = "console";
    public const string Operator = "console-operator";

    public static IServiceCollection AddConsole(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        // Over plain HTTP only in Development (the checkout's hosts); anywhere else the cookies need HTTPS.
        var secure = environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
        var authentication = services.AddAuthentication().AddCookie(Scheme, o =>
        {
            o.Cookie.Name = "saga-console";
            o.Cookie.Path = ConsoleEndpoints.Root;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = secure;
            o.SlidingExpiration = false; // never outlives the token it was made from
            o.LoginPath = ConsoleEndpoints.SignInPath;
            o.Events = new CookieAuthenticationEvents
            {
                OnRedirectToLogin = context =>
                {
                    if (HttpMethods.IsGet(context.Request.Method))
                    {
                        context.Response.Redirect(context.RedirectUri);
                    }
                    else
                    {
                        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    }
                    return Task.CompletedTask;
                },
                OnRedirectToAccessDenied = context => ConsolePages.Message(context.HttpContext, StatusCodes.Status403Forbidden, "Not allowed",
                    "Your role does not allow this: repairs are for operators.").ExecuteAsync(context.HttpContext),
            };
        });
        var provider = ConsoleProvider.Configure(authentication, configuration, secure);
        services.AddSingleton(provider);
        services.AddAuthorizationBuilder()
            .AddPolicy(Viewer, p => p.AddAuthenticationSchemes(Scheme).RequireRole(Roles.Transfers, Roles.Operator))
            .AddPolicy(Operator, p => p.AddAuthenticationSchemes(Scheme).RequireRole(Roles.Operator));
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "saga-console-antiforgery";
            o.Cookie.Path = ConsoleEndpoints.Root;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = secure;
        });
        return services;
    }

    /// <summary>
    /// The pasted token, checked by the Api's own bearer handler (signature, issuer, audience, lifetime, sub: all of
    /// ApiAuthentication) in a request of its own; the principal to keep in the cookie and when it must expire, or null.
    /// </summary>
    public static async Task<(ClaimsPrincipal Principal, DateTimeOffset Expires)?> Validate(HttpContext http, string token)
    {
        await using var scope = http.RequestServices.CreateAsyncScope();
        var probe = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        probe.Request.Headers.Authorization = $"Bearer {token}";
        var result = await probe.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
        if (!result.Succeeded || Expiry(result.Principal) is not { } expires)
        {
            return null;
        }
        return (Kept(result.Principal), expires);
    }

    /// <summary>What the cookie keeps of a token's claims: who (sub, name) and the roles, nothing else.</summary>
    public static ClaimsPrincipal Kept(ClaimsPrincipal principal) => new(new ClaimsIdentity(
        principal.Claims.Where(c => c.Type is JwtRegisteredClaimNames.Sub or "role" or "name"),
        Scheme, JwtRegisteredClaimNames.Sub, "role"));

    /// <summary>The exp of the token the principal was made from, if it has one.</summary>
    public static DateTimeOffset? Expiry(ClaimsPrincipal principal) =>
        principal.FindFirst(JwtRegisteredClaimNames.Exp)?.Value is { } exp && long.TryParse(exp, out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;

    public static Task SignIn(HttpContext http, ClaimsPrincipal principal, DateTimeOffset expires) =>
        http.SignInAsync(Scheme, principal, new AuthenticationProperties { IsPersistent = true, ExpiresUtc = expires, AllowRefresh = false });

    public static Task SignOut(HttpContext http) => http.SignOutAsync(Scheme);
}

/// <summary>Configuration section "Auth:Console": the console's client at the OIDC authority (Auth:Authority).</summary>
internal sealed class ConsoleClientOptions
{
    public const string Section = AuthOptions.Section + ":Console";

    /// <summary>The console's client id at the authority; without one the console has no sign-in with the authority.</summary>
    public string? ClientId { get; set; }

    /// <summary>Only for a confidential client; a public one signs in with PKCE alone. Never logged, no default.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Space-separated; openid is always asked for. Ask for whatever scope makes the provider put the role claim in the id token.</summary>
    public string Scopes { get; set; } = "openid profile";
}

/// <summary>
/// The console's sign-in with the identity provider at Auth:Authority: the authorization code flow with PKCE, its
/// callback under /console, the id token checked as the bearer handler checks the Api's tokens (the authority's
/// asymmetric keys, sub, the role claim "role"), and the cookie made from it living no longer than the id token.
/// </summary>
internal sealed class ConsoleProvider
{
    public const string Scheme = "ConsoleProvider";
    public const string CallbackPath = ConsoleEndpoints.Root + "/signin-oidc";
    public const string SignedOutCallbackPath = ConsoleEndpoints.Root + "/signout-callback-oidc";

    /// <summary>The authority (Auth:Authority), if one is configured.</summary>
    public Uri? Authority { get; private init; }

    /// <summary>Whether the console signs in with the authority: it is configured and the console has a client there.</summary>
    public bool SignsIn { get; private init; }

    public string Host => Authority?.Host ?? "";

    public static ConsoleProvider Configure(AuthenticationBuilder authentication, IConfiguration configuration, CookieSecurePolicy secure)
    {
        var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var client = configuration.GetSection(ConsoleClientOptions.Section).Get<ConsoleClientOptions>() ?? new ConsoleClientOptions();
        if (auth.Authority is not { Length: > 0 } authority)
        {
            return new ConsoleProvider();
        }
        if (!Uri.TryCreate(authority, UriKind.Absolute, out var authorityUri))
        {
            throw new InvalidOperationException("Auth:Authority is not an absolute URI.");
        }
        if (client.ClientId is not { Length: > 0 } clientId)
        {
            return new ConsoleProvider { Authority = authorityUri };
        }
        authentication.AddOpenIdConnect(Scheme, o =>
        {
            o.Authority = authority;
            o.ClientId = clientId;
            if (client.ClientSecret is { Length: > 0 } secret)
            {
                o.ClientSecret = secret;
            }
            o.ResponseType = OpenIdConnectResponseType.Code;
            // Back by a redirect (GET), not form_post: the correlation and nonce cookies then need only SameSite=Lax.
            o.ResponseMode = OpenIdConnectResponseMode.Query;
            o.UsePkce = true;
            o.SaveTokens = false; // the console calls no API with them: the cookie keeps sub and roles only
            o.GetClaimsFromUserInfoEndpoint = false;
            o.MapInboundClaims = false;
            o.SignInScheme = ConsoleAuthentication.Scheme;
            o.SignOutScheme = ConsoleAuthentication.Scheme;
            o.CallbackPath = CallbackPath;
            o.SignedOutCallbackPath = SignedOutCallbackPath;
            o.RemoteSignOutPath = ConsoleEndpoints.Root + "/signout-oidc";
            o.SignedOutRedirectUri = ConsoleEndpoints.SignInPath;
            o.Scope.Clear();
            o.Scope.Add(OpenIdConnectScope.OpenId);
            foreach (var scope in client.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!o.Scope.Contains(scope))
                {
                    o.Scope.Add(scope);
                }
            }
            // Scoped to the callback path by default; Lax so that they ride the provider's redirect back, and only that.
            foreach (var cookie in new[] { o.CorrelationCookie, o.NonceCookie })
            {
                cookie.HttpOnly = true;
                cookie.SameSite = SameSiteMode.Lax;
                cookie.SecurePolicy = secure;
            }
            o.TokenValidationParameters.ValidAlgorithms = ApiAuthentication.AuthorityAlgorithms;
            o.TokenValidationParameters.RequireSignedTokens = true;
            o.TokenValidationParameters.RequireExpirationTime = true;
            o.TokenValidationParameters.ClockSkew = ApiAuthentication.ClockSkew;
            o.TokenValidationParameters.NameClaimType = JwtRegisteredClaimNames.Sub;
            o.TokenValidationParameters.RoleClaimType = "role";
            o.Events = new OpenIdConnectEvents
            {
                OnTokenValidated = context => TokenValidated(context, auth.MaxLifetime),
                OnTicketReceived = TicketReceived,
                OnAccessDenied = context =>
                {
                    context.HandleResponse();
                    return ConsoleSignIn.Refused(context.HttpContext, StatusCodes.Status401Unauthorized, "Not signed in",
                        $"{authorityUri.Host} did not sign you in: the sign-in was cancelled or refused there.");
                },
                OnRemoteFailure = context =>
                {
                    context.HandleResponse();
                    return RemoteFailure(context.HttpContext, context.Failure, authorityUri.Host);
                },
                OnRedirectToIdentityProviderForSignOut = context =>
                {
                    // A page that moves on to the provider, not a redirect: the sign-out is a form, and the
                    // Content-Security-Policy's form-action 'self' would stop a form's redirect to another site.
                    context.HandleResponse();
                    var endSession = string.IsNullOrEmpty(context.ProtocolMessage.IssuerAddress) ? null : context.ProtocolMessage.CreateLogoutRequestUrl();
                    return ConsoleSignIn.SignedOut(context.HttpContext, endSession, authorityUri.Host);
                },
            };
        });
        return new ConsoleProvider { Authority = authorityUri, SignsIn = true };
    }

    // The id token is good (signature, issuer, audience = the console's client id, lifetime, nonce): is it someone the console lets in?
    private static async Task TokenValidated(Microsoft.AspNetCore.Authentication.OpenIdConnect.TokenValidatedContext context, TimeSpan maxLifetime)
    {
        var principal = context.Principal!;
        if (string.IsNullOrWhiteSpace(principal.FindFirst(JwtRegisteredClaimNames.Sub)?.Value))
        {
            context.Fail("The id token has no sub claim.");
            return;
        }
        if (ConsoleAuthentication.Expiry(principal) is not { } expires)
        {
            context.Fail("The id token has no exp claim.");
            return;
        }
        if (!principal.IsInRole(Roles.Transfers) && !principal.IsInRole(Roles.Operator))
        {
            Log(context.HttpContext).LogWarning("Console sign-in of {Subject} refused: neither the transfers nor the operator role", principal.FindFirst(JwtRegisteredClaimNames.Sub)?.Value);
            context.HandleResponse();
            await ConsoleSignIn.Refused(context.HttpContext, StatusCodes.Status403Forbidden, "Not allowed",
                "You are signed in at the identity provider, but with neither the transfers nor the operator role: the console is not for you.");
            return;
        }
        context.Principal = ConsoleAuthentication.Kept(principal);
        var latest = DateTimeOffset.UtcNow + maxLifetime;
        context.Properties!.ExpiresUtc = expires < latest ? expires : latest;
    }

    // The cookie is set here, and the page that follows is reached from a page of the console, not by a redirect: a
    // SameSite=Strict cookie is not sent along a redirect chain that a cross-site navigation (the provider's) began.
    private static async Task TicketReceived(TicketReceivedContext context)
    {
        context.HandleResponse();
        await ConsoleAuthentication.SignIn(context.HttpContext, context.Principal!, context.Properties!.ExpiresUtc!.Value);
        context.HttpContext.User = context.Principal!;
        await ConsoleSignIn.SignedIn(context.HttpContext);
    }

    private static Task RemoteFailure(HttpContext http, Exception? failure, string host)
    {
        Log(http).LogWarning(failure, "Console sign-in with {Authority} refused", host);
        return failure is OpenIdConnectProtocolException protocol
            ? ConsoleSignIn.Refused(http, StatusCodes.Status502BadGateway, "Not signed in",
                $"{host} answered the sign-in with an error ({protocol.Data["error"] as string ?? "no error code"}). Try again; if it persists, its administrators can tell why.")
            : ConsoleSignIn.Refused(http, StatusCodes.Status401Unauthorized, "Not signed in",
                $"The console refused the answer from {host}, or the sign-in took too long. Start again.");
    }

    private static ILogger Log(HttpContext http) => http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleProvider));
}
