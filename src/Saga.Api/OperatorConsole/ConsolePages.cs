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
            .Append($"<link rel=\"icon\" href=\"{ConsoleEndpoints.Root}/favicon.svg\" type=\"image/svg+xml\">")
            .Append($"<link rel=\"stylesheet\" href=\"{ConsoleEndpoints.Root}/console.css\"></head><body>")
            .Append("<header><nav aria-label=\"Console\">")
            .Append($"<a class=\"brand\" href=\"{ConsoleEndpoints.Root}\">Saga console</a>");
        if (http.User.Identity is { IsAuthenticated: true, AuthenticationType: ConsoleAuthentication.Scheme })
        {
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

    // Its own icon, so that the browser asks for no /favicon.ico that is not there.
    public const string Icon = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f6feb"/><path d="M4 8h8M9 5l3 3-3 3" stroke="#fff" stroke-width="1.6" fill="none"/></svg>""";

    public const string Css = """
        :root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --warn: #b45309; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, sans-serif; }
        header { border-bottom: 1px solid var(--line); padding: .5rem 1rem; }
        nav { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
        nav .brand { font-weight: 600; text-decoration: none; }
        nav .who { margin-left: auto; color: var(--muted); }
        main { padding: 1rem; max-width: 72rem; }
        h1 { font-size: 1.3rem; margin: .25rem 0 1rem; }
        h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
        code, .id { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        dl.facts dt { color: var(--muted); }
        dl.data { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 .75rem; }
        dl.data dt { color: var(--muted); }
        dl.data dd { margin: 0; overflow-wrap: anywhere; }
        .state-NeedsAttention { color: var(--warn); font-weight: 600; }
        .message { border-left: 4px solid var(--warn); padding: .5rem .75rem; }
        form.inline { display: inline; }
        form.repair { border: 1px solid var(--line); padding: .5rem .75rem; margin: .5rem 0; display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; }
        label { display: flex; flex-direction: column; gap: .2rem; }
        input[type=text], textarea { font: inherit; padding: .3rem; min-width: 20rem; }
        textarea { width: 100%; min-height: 6rem; font-family: ui-monospace, monospace; }
        button { font: inherit; padding: .3rem .8rem; cursor: pointer; }
        a:focus, button:focus, input:focus, textarea:focus { outline: 2px solid Highlight; outline-offset: 2px; }
        """;
}
