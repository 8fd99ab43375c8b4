using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.IdentityModel.JsonWebTokens;
using Saga.Components.Security;

namespace Saga.Api.OperatorConsole;

/// <summary>
/// The console's HTML, written on the server: every value from a transfer, a token or a request goes through
/// <see cref="HtmlEncoder"/>, and no page carries a script or an inline style (the Content-Security-Policy forbids both).
/// </summary>
internal sealed class ConsolePages(HttpContext http)
{
    private readonly StringBuilder _html = new();

    /// <summary>Encodes <paramref name="text"/> for an element's content or a quoted attribute.</summary>
    public static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    public static string Time(DateTimeOffset time) => E(time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff 'UTC'", CultureInfo.InvariantCulture));

    public static string Amount(decimal amount) => E(amount.ToString("0.00", CultureInfo.InvariantCulture));

    public ConsolePages Raw(string html)
    {
        _html.Append(html);
        return this;
    }

    /// <summary>A POST form to <paramref name="action"/> with the anti-forgery token; <paramref name="fields"/> is its inner HTML.</summary>
    public ConsolePages Form(string action, string fields, string cssClass = "")
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        _html.Append($"<form method=\"post\" action=\"{E(action)}\" class=\"{E(cssClass)}\">")
            .Append($"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken)}\">")
            .Append(fields)
            .Append("</form>");
        return this;
    }

    public IResult Page(string title, int status = StatusCodes.Status200OK)
    {
        var body = _html.ToString();
        _html.Clear();
        _html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append($"<title>{E(title)} · Saga console</title>")
            .Append($"<link rel=\"icon\" href=\"{ConsoleEndpoints.Assets}/favicon.svg\" type=\"image/svg+xml\">")
            .Append($"<link rel=\"stylesheet\" href=\"{ConsoleEndpoints.Assets}/console.css\"></head><body>")
            .Append("<header><nav aria-label=\"Console\">")
            .Append($"<a class=\"brand\" href=\"{ConsoleEndpoints.Root}\">Saga console</a>");
        if (http.User.Identity is { IsAuthenticated: true, AuthenticationType: ConsoleAuthentication.Scheme })
        {
            _html.Append($"<a href=\"{ConsoleEndpoints.Root}/transfers\">Transfers</a>")
                .Append($"<a href=\"{ConsoleEndpoints.Root}/accounts\">Accounts</a>");
            var roles = string.Join(", ", new[] { Roles.Operator, Roles.Transfers }.Where(http.User.IsInRole));
            _html.Append($"<span class=\"who\">{E(http.User.FindFirst(JwtRegisteredClaimNames.Sub)?.Value)} ({E(roles)})</span>");
            Form(ConsoleEndpoints.Root + "/sign-out", "<button type=\"submit\">Sign out</button>", "inline");
        }
        _html.Append("</nav></header><main>")
            .Append($"<h1>{E(title)}</h1>")
            .Append(body)
            .Append("</main></body></html>");
        return Results.Content(_html.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    /// <summary>A page that only says something: an error, a refusal.</summary>
    public static IResult Message(HttpContext http, int status, string title, string text) =>
        new ConsolePages(http)
            .Raw($"<p class=\"message\" role=\"alert\">{E(text)}</p><p><a href=\"{ConsoleEndpoints.Root}\">Back to the overview</a></p>")
            .Page(title, status);
}
