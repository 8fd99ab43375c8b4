using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.FileProviders;
using Saga.Api.Endpoints;
using static Saga.Api.OperatorConsole.ConsolePages;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// The operator console: HTML pages over the same reads and repairs as the JSON API, signed in with a cookie
/// made from a bearer token. Who sees what follows <see cref="Ownership"/>, as in the API.
/// </summary>
internal static class ConsoleEndpoints
{
    public const string Root = "/console";
    public const string SignInPath = Root + "/sign-in";
    /// <summary>The stylesheet, icon and scripts, from the host's directory (OperatorConsole/assets in the source).</summary>
    public const string Assets = Root + "/assets";

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        var console = app.MapGroup(Root).ExcludeFromDescription();
        ConsoleSignIn.Map(console);
        ConsoleOverview.Map(console);
        ConsoleTransferList.Map(console);
        ConsoleTransfer.Map(console);
        ConsoleAccounts.Map(console);
    }

    /// <summary>Every console response: no script or style but the console's own, never framed, never sniffed.</summary>
    public static IApplicationBuilder UseConsole(this IApplicationBuilder app) => app.Use(Headers).UseStaticFiles(new StaticFileOptions
    {
        RequestPath = Assets,
        FileProvider = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "OperatorConsole", "assets")),
    });

    private static Task Headers(HttpContext http, Func<Task> next)
    {
        if (http.Request.Path.StartsWithSegments(Root))
        {
            // OnStarting: the exception handler clears headers, and this still runs after it.
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
                    + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                return Task.CompletedTask;
            });
        }
        return next();
    }

    /// <summary>The posted form, if it is one and carries a valid anti-forgery token; otherwise null.</summary>
    internal static async Task<IFormCollection?> Form(HttpContext http, IAntiforgery antiforgery)
    {
        if (!http.Request.HasFormContentType)
        {
            return null;
        }
        try
        {
            await antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return null;
        }
        return await http.Request.ReadFormAsync(http.RequestAborted);
    }

    internal static IResult Forged(HttpContext http) =>
        Message(http, StatusCodes.Status400BadRequest, "The form has expired", "The form was not sent from this console, or it expired: open the page again and repeat.");

    internal static IResult NotFound(HttpContext http, Guid transferId) =>
        Message(http, StatusCodes.Status404NotFound, "No such transfer", $"There is no transfer {transferId}.");
}
