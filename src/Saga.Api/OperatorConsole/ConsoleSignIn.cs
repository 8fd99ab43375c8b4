using Microsoft.AspNetCore.Antiforgery;
using Saga.Api.Endpoints;
using Saga.Components.Security;
using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>Signing in and out: a development token pasted into a form becomes the console's cookie.</summary>
internal static class ConsoleSignIn
{
    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/sign-in", (HttpContext http, IHostEnvironment environment) => SignInPage(http, environment));
        console.MapPost("/sign-in", SignIn);
        console.MapPost("/sign-out", SignOut);
    }

    private static IResult SignInPage(HttpContext http, IHostEnvironment environment, string? error = null, int status = StatusCodes.Status200OK)
    {
        var page = new ConsolePages(http);
        if (!environment.IsDevelopment())
        {
            return page.Raw("<p>Signing in with a pasted token is for Development only; the sign-in with the identity provider is not built yet.</p>")
                .Page("Sign in", StatusCodes.Status404NotFound);
        }
        if (error is not null)
        {
            page.Raw($"<p class=\"message\" role=\"alert\">{E(error)}</p>");
        }
        return page
            .Raw("<p>Paste a bearer token, as the Api takes it: <code>dotnet run --project src/Saga.Api -- dev-token --roles operator</code>.</p>")
            .Form(SignInPath, "<label for=\"token\">Token</label><textarea id=\"token\" name=\"token\" required autofocus spellcheck=\"false\" autocomplete=\"off\"></textarea>"
                + "<p><button type=\"submit\">Sign in</button></p>")
            .Page("Sign in", status);
    }

    private static async Task<IResult> SignIn(HttpContext http, IHostEnvironment environment, IAntiforgery antiforgery)
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
            return SignInPage(http, environment, "The token was refused.", StatusCodes.Status401Unauthorized);
        }
        if (!signedIn.Principal.IsInRole(Roles.Transfers) && !signedIn.Principal.IsInRole(Roles.Operator))
        {
            return SignInPage(http, environment, "The token has neither the transfers nor the operator role.", StatusCodes.Status403Forbidden);
        }
        await ConsoleAuthentication.SignIn(http, signedIn.Principal, signedIn.Expires);
        return Results.Redirect(Root, preserveMethod: false);
    }

    private static async Task<IResult> SignOut(HttpContext http, IAntiforgery antiforgery)
    {
        if (await Form(http, antiforgery) is null)
        {
            return Forged(http);
        }
        await ConsoleAuthentication.SignOut(http);
        return Results.Redirect(SignInPath);
    }
}
