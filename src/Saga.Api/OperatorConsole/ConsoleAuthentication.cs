using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Saga.Components.Security;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// The console's own cookie, for its pages only: a browser sends it by itself, so it must never authenticate the
/// JSON API (that would open the API to cross-site requests). The API's default scheme stays the bearer token,
/// and the cookie is scoped to <see cref="ConsoleEndpoints.Root"/>.
/// </summary>
internal static class ConsoleAuthentication
{
    public const string Scheme = "Console";
    public const string Viewer = "console";
    public const string Operator = "console-operator";

    public static IServiceCollection AddConsole(this IServiceCollection services, IHostEnvironment environment)
    {
        // Over plain HTTP only in Development (the checkout's hosts); anywhere else the cookies need HTTPS.
        var secure = environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
        services.AddAuthentication().AddCookie(Scheme, o =>
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
        if (!result.Succeeded || result.Principal.FindFirst(JwtRegisteredClaimNames.Exp)?.Value is not { } exp || !long.TryParse(exp, out var seconds))
        {
            return null;
        }
        var identity = new ClaimsIdentity(
            result.Principal.Claims.Where(c => c.Type is JwtRegisteredClaimNames.Sub or "role" or "name"),
            Scheme, JwtRegisteredClaimNames.Sub, "role");
        return (new ClaimsPrincipal(identity), DateTimeOffset.FromUnixTimeSeconds(seconds));
    }

    public static Task SignIn(HttpContext http, ClaimsPrincipal principal, DateTimeOffset expires) =>
        http.SignInAsync(Scheme, principal, new AuthenticationProperties { IsPersistent = true, ExpiresUtc = expires, AllowRefresh = false });

    public static Task SignOut(HttpContext http) => http.SignOutAsync(Scheme);
}
