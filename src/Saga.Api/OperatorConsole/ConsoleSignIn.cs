using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Saga.Components.Security;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// Signing in and out: with the identity provider at Auth:Authority (the code flow, <see cref="ConsoleProvider"/>),
/// and in Development also with a token pasted into a form, checked by the Api's bearer handler.
/// </summary>
internal static class ConsoleSignIn
{
    private const string ProviderPath = SignInPath + "/provider";

    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/sign-in", (HttpContext http, IHostEnvironment environment, ConsoleProvider provider) => SignInPage(http, environment, provider));
        console.MapPost("/sign-in", SignIn);
        console.MapGet("/sign-in/provider", Challenge);
        console.MapPost("/sign-out", SignOut);
    }

    private static IResult SignInPage(HttpContext http, IHostEnvironment environment, ConsoleProvider provider, string? error = null, int status = StatusCodes.Status200OK)
    {
        var page = new ConsolePages(http);
        if (error is not null)
        {
            page.Raw($"<p class=\"message\" role=\"alert\">{E(error)}</p>");
        }
        if (provider.SignsIn)
        {
            // A link, not a form: the Content-Security-Policy's form-action 'self' would stop a form's redirect to the provider.
            page.Raw($"<p><a class=\"button\" href=\"{ProviderPath}\">Sign in with {E(provider.Host)}</a></p>");
        }
        else if (provider.Authority is not null)
        {
            page.Raw($"<p class=\"message\" role=\"alert\">The console has no client at {E(provider.Host)}: configure <code>Auth__Console__ClientId</code>.</p>");
        }
        if (!environment.IsDevelopment())
        {
            return provider.SignsIn
                ? page.Page("Sign in", status)
                : page.Raw("<p>Signing in with a pasted token is for Development only; elsewhere the console signs in with the identity provider at <code>Auth__Authority</code>.</p>")
                    .Page("Sign in", StatusCodes.Status404NotFound);
        }
        var hint = provider.Authority is null
            ? "Paste a bearer token, as the Api takes it: <code>dotnet run --project src/Saga.Api -- dev-token --roles operator</code>."
            : $"Or paste a bearer token for the Api from {E(provider.Host)} (Development only).";
        return page
            .Raw($"<p>{hint}</p>")
            .Form(SignInPath, "<label for=\"token\">Token</label><textarea id=\"token\" name=\"token\" required spellcheck=\"false\" autocomplete=\"off\""
                + (provider.SignsIn ? "" : " autofocus") + "></textarea><p><button type=\"submit\">Sign in</button></p>")
            .Page("Sign in", status);
    }

    private static async Task<IResult> SignIn(HttpContext http, IHostEnvironment environment, IAntiforgery antiforgery, ConsoleProvider provider)
    {
        if (!environment.IsDevelopment())
        {
            return Message(http, StatusCodes.Status404NotFound, "Sign in", "Signing in with a pasted token is for Development only.");
        }
        if (await Form(http, antiforgery) is not { } form)
        {
            return Forged(http);
        }
        var token = form["token"].ToString().Trim();
        if (token.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = token[7..].Trim();
        }
        // As the API: a refused token learns it was refused, not why.
        if (token.Length == 0 || await ConsoleAuthentication.Validate(http, token) is not { } signedIn)
        {
            return SignInPage(http, environment, provider, "The token was refused.", StatusCodes.Status401Unauthorized);
        }
        if (!signedIn.Principal.IsInRole(Roles.Transfers) && !signedIn.Principal.IsInRole(Roles.Operator))
        {
            return SignInPage(http, environment, provider, "The token has neither the transfers nor the operator role.", StatusCodes.Status403Forbidden);
        }
        await ConsoleAuthentication.SignIn(http, signedIn.Principal, signedIn.Expires);
        return Results.Redirect(Root, preserveMethod: false);
    }

    /// <summary>
    /// Off to the provider. A GET is enough: what a forged link can start is the visitor's own sign-in with the
    /// configured provider, and the way back is bound to this browser (correlation cookie, state, nonce, PKCE).
    /// </summary>
    private static async Task<IResult> Challenge(HttpContext http, ConsoleProvider provider)
    {
        if (!provider.SignsIn)
        {
            return Message(http, StatusCodes.Status404NotFound, "Sign in", "The console signs in with no identity provider: configure Auth__Authority and Auth__Console__ClientId.");
        }
        try
        {
            await http.ChallengeAsync(ConsoleProvider.Scheme, new AuthenticationProperties { RedirectUri = Root });
            return Results.Empty;
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException && !http.Response.HasStarted)
        {
            Log(http).LogWarning(e, "Console sign-in: the identity provider {Authority} cannot be reached", provider.Host);
            return Message(http, StatusCodes.Status502BadGateway, "Sign in", $"The identity provider {provider.Host} cannot be reached. Try again later.");
        }
    }

    private static async Task<IResult> SignOut(HttpContext http, IAntiforgery antiforgery, ConsoleProvider provider)
    {
        if (await Form(http, antiforgery) is null)
        {
            return Forged(http);
        }
        var fromProvider = http.User.Identity?.IsAuthenticated == true && provider.SignsIn;
        await ConsoleAuthentication.SignOut(http);
        http.User = new();
        if (!fromProvider)
        {
            return Results.Redirect(SignInPath);
        }
        try
        {
            // Writes the page that offers the provider's end_session (ConsoleProvider's OnRedirectToIdentityProviderForSignOut).
            await http.SignOutAsync(ConsoleProvider.Scheme, new AuthenticationProperties { RedirectUri = SignInPath });
            return Results.Empty;
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException && !http.Response.HasStarted)
        {
            Log(http).LogWarning(e, "Console sign-out: the identity provider {Authority} cannot be reached", provider.Host);
            return Results.Redirect(SignInPath);
        }
    }

    /// <summary>A sign-in that did not happen, said plainly, with the way to start again.</summary>
    public static Task Refused(HttpContext http, int status, string title, string text) =>
        new ConsolePages(http)
            .Raw($"<p class=\"message\" role=\"alert\">{E(text)}</p><p><a href=\"{SignInPath}\">Sign in again</a></p>")
            .Page(title, status)
            .ExecuteAsync(http);

    /// <summary>
    /// After the provider's redirect back: the cookie is set, and the console is opened from this page (a refresh, or
    /// the link), so that the browser sends the SameSite=Strict cookie; at the end of the provider's redirects it would not.
    /// </summary>
    public static Task SignedIn(HttpContext http)
    {
        http.Response.Headers["Refresh"] = $"0; url={Root}";
        return new ConsolePages(http)
            .Raw($"<p>You are signed in. <a href=\"{Root}\">Open the console</a>.</p>")
            .Page("Signed in")
            .ExecuteAsync(http);
    }

    /// <summary>Signed out of the console; if the provider has an end_session endpoint, on to it (a refresh, or the link).</summary>
    public static Task SignedOut(HttpContext http, string? endSession, string host)
    {
        var page = new ConsolePages(http).Raw("<p>You are signed out of the console.</p>");
        if (endSession is null)
        {
            page.Raw($"<p><a href=\"{SignInPath}\">Sign in again</a></p>");
        }
        else
        {
            http.Response.Headers["Refresh"] = $"0; url={endSession}";
            page.Raw($"<p><a href=\"{E(endSession)}\">Sign out of {E(host)} too</a></p>");
        }
        return page.Page("Signed out").ExecuteAsync(http);
    }

    private static ILogger Log(HttpContext http) => http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleSignIn));
}
