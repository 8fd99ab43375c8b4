using System.Text;
using System.Text.Json;
using Marten;
using MassTransit;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Security;
using Saga.Components.Transfers;
using Saga.Contracts;
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
    private const int AttentionShown = 50;

    private static readonly JsonSerializerOptions EventJson = new(JsonSerializerDefaults.Web);

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        var console = app.MapGroup(Root).ExcludeFromDescription();
        console.MapGet("/console.css", () => Results.Text(Css, "text/css; charset=utf-8"));
        console.MapGet("/favicon.svg", () => Results.Text(Icon, "image/svg+xml"));
        console.MapGet("/sign-in", (HttpContext http, IHostEnvironment environment) => SignInPage(http, environment));
        console.MapPost("/sign-in", SignIn);
        console.MapPost("/sign-out", SignOut);
        console.MapGet("", Overview).RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapGet("/transfers", Find).RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapGet("/transfers/{transferId:guid}", Transfer).RequireAuthorization(ConsoleAuthentication.Viewer);
        console.MapPost("/transfers/{transferId:guid}/{repair}", Repair).RequireAuthorization(ConsoleAuthentication.Operator);
    }

    /// <summary>Every console response: no script or style but the console's own, never framed, never sniffed.</summary>
    public static IApplicationBuilder UseConsoleHeaders(this IApplicationBuilder app) => app.Use((http, next) =>
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
        return next(http);
    });

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

    private static async Task<IResult> Overview(HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        // Whom the listing shows: operators every transfer, anyone else the transfers it asked for.
        var initiator = Ownership.IsOperator(http) ? null : Http.Caller(http);
        var page = new ConsolePages(http);
        page.Raw("<form method=\"get\" action=\"" + Root + "/transfers\" class=\"repair\"><label for=\"id\">Transfer id</label>"
            + "<input type=\"text\" id=\"id\" name=\"id\" required minlength=\"32\" maxlength=\"36\" spellcheck=\"false\" autocomplete=\"off\"><button type=\"submit\">Open</button></form>");

        page.Raw("<h2>Transfers by state</h2><table><thead><tr><th scope=\"col\">State</th><th scope=\"col\" class=\"number\">Transfers</th></tr></thead><tbody>");
        foreach (var state in TransferStates.All)
        {
            var query = session.Query<TransferState>().Where(x => x.CurrentState == state);
            if (initiator is not null)
            {
                query = query.Where(x => x.Initiator == initiator);
            }
            var count = await query.CountAsync(cancellationToken);
            page.Raw($"<tr id=\"state-{E(state)}\"><td class=\"state-{E(state)}\">{E(state)}</td><td class=\"number\">{count}</td></tr>");
        }
        page.Raw("</tbody></table>");

        var attention = await TransferViews.InState(session, TransferStates.NeedsAttention, initiator, null, AttentionShown, cancellationToken);
        page.Raw($"<h2>Needs attention</h2>");
        if (attention.Count == 0)
        {
            page.Raw("<p>No transfer needs attention.</p>");
        }
        else
        {
            page.Raw($"<p>The {attention.Count} most recently changed.</p><table><thead><tr><th scope=\"col\">Transfer</th><th scope=\"col\">Reason</th>"
                + "<th scope=\"col\">From</th><th scope=\"col\">To</th><th scope=\"col\" class=\"number\">Amount</th><th scope=\"col\">Changed</th></tr></thead><tbody>");
            foreach (var t in attention)
            {
                page.Raw($"<tr><td><a class=\"id\" href=\"{Root}/transfers/{t.TransferId}\">{t.TransferId}</a></td><td>{E(t.Reason)}</td>"
                    + $"<td>{E(t.From.ToString())}</td><td>{E(t.To.ToString())}</td><td class=\"number\">{Amount(t.Amount)}</td><td>{Time(t.UpdatedAt)}</td></tr>");
            }
            page.Raw("</tbody></table>");
        }
        return page.Page("Overview");
    }

    private static IResult Find(HttpContext http, string? id) =>
        Guid.TryParse(id?.Trim(), out var transferId)
            ? Results.Redirect($"{Root}/transfers/{transferId}")
            : Message(http, StatusCodes.Status400BadRequest, "Not a transfer id", "A transfer id looks like 3f2504e0-4f89-11d3-9a0c-0305e82c3301.");

    private static async Task<IResult> Transfer(Guid transferId, HttpContext http, IQuerySession session, IScopedClientFactory clients, IOptions<ApiOptions> options,
        CancellationToken cancellationToken)
    {
        var view = await session.LoadAsync<TransferState>(transferId, cancellationToken);
        if (view?.ToStatus() is not { } transfer || !await Ownership.MaySeeTransfer(http, transfer, clients, options))
        {
            return NotFound(http, transferId);
        }
        var events = await session.Events.FetchStreamAsync(transferId, token: cancellationToken);

        var page = new ConsolePages(http);
        page.Raw("<dl class=\"facts\">")
            .Raw($"<dt>Id</dt><dd class=\"id\">{transfer.TransferId}</dd>")
            .Raw($"<dt>State</dt><dd id=\"state\" class=\"state-{E(transfer.State)}\">{E(transfer.State)}</dd>");
        if (transfer.Reason is not null)
        {
            page.Raw($"<dt>Reason</dt><dd>{E(transfer.Reason)}</dd>");
        }
        page.Raw($"<dt>From</dt><dd>{E(transfer.From.ToString())}</dd><dt>To</dt><dd>{E(transfer.To.ToString())}</dd>")
            .Raw($"<dt>Amount</dt><dd>{Amount(transfer.Amount)} {E(transfer.Currency)}</dd><dt>Check-backs</dt><dd>{transfer.CheckBacks}</dd>")
            .Raw($"<dt>Created</dt><dd>{Time(transfer.CreatedAt)}</dd><dt>Changed</dt><dd>{Time(transfer.UpdatedAt)}</dd></dl>");

        if (Ownership.IsOperator(http) && AllowedRepairs(view) is { Count: > 0 } repairs)
        {
            page.Raw("<h2>Repair</h2>");
            foreach (var repair in repairs)
            {
                var field = $"reason-{repair}";
                page.Form($"{Root}/transfers/{transferId}/{repair}",
                    $"<label for=\"{field}\">Reason to {E(Label(repair).ToLowerInvariant())}<input type=\"text\" id=\"{field}\" name=\"reason\" required maxlength=\"500\"></label>"
                    + $"<button type=\"submit\" name=\"repair\" value=\"{E(repair)}\">{E(Label(repair))}</button>", "repair");
            }
        }

        page.Raw("<h2>Timeline</h2><table id=\"timeline\"><thead><tr><th scope=\"col\" class=\"number\">#</th><th scope=\"col\">Time</th>"
            + "<th scope=\"col\">Event</th><th scope=\"col\">What it says</th></tr></thead><tbody>");
        foreach (var e in events)
        {
            page.Raw($"<tr><td class=\"number\">{e.Version}</td><td>{Time(e.Timestamp)}</td><td>{E(e.Data.GetType().Name)}</td><td>{Describe(e.Data)}</td></tr>");
        }
        page.Raw("</tbody></table>");
        return page.Page($"Transfer {transferId}");
    }

    private static async Task<IResult> Repair(Guid transferId, string repair, HttpContext http, IAntiforgery antiforgery, IOptions<ApiOptions> options)
    {
        if (await Form(http, antiforgery) is not { } form)
        {
            return Forged(http);
        }
        if (!Repairs.All.Contains(repair))
        {
            return Message(http, StatusCodes.Status404NotFound, "No such repair", $"The repairs are: {string.Join(", ", Repairs.All)}.");
        }
        var reason = form["reason"].ToString();
        if (TransferValidation.RepairReason(new RepairRequest(reason)) is not null)
        {
            return Message(http, StatusCodes.Status400BadRequest, "A reason is required", "Give a reason of 1 to 500 characters, without control characters.");
        }
        var answer = await Repairs.Ask(repair, transferId, Http.Caller(http), reason, http, options.Value.RequestTimeout);
        return answer.Outcome switch
        {
            // See the transfer's page: the timeline shows the repair.
            RepairOutcome.Accepted => Results.Redirect($"{Root}/transfers/{transferId}"),
            RepairOutcome.Rejected => Message(http, StatusCodes.Status409Conflict, "The transfer is not in a state that allows this",
                $"{answer.Reason} (state: {answer.State})"),
            RepairOutcome.NoAnswer => Message(http, StatusCodes.Status503ServiceUnavailable, "The coordinator did not answer in time",
                "The repair may or may not have been made: open the transfer again, and repeat it if nothing changed."),
            _ => NotFound(http, transferId),
        };
    }

    /// <summary>
    /// The repairs the coordinator's state machine would accept now: it decides by the same predicates of
    /// <see cref="TransferState"/>, and still decides, so a button that went stale answers 409.
    /// </summary>
    internal static IReadOnlyList<string> AllowedRepairs(TransferState t)
    {
        if (t.CurrentState != TransferStates.NeedsAttention)
        {
            return [];
        }
        var allowed = new List<string>();
        if (t.MayRetryCredit())
        {
            allowed.Add(Repairs.RetryCredit);
        }
        if (t.MayRecheck())
        {
            allowed.Add(Repairs.Recheck);
        }
        if (t.MayRefund())
        {
            allowed.Add(Repairs.Refund);
        }
        if (t.MayResolve())
        {
            allowed.Add(Repairs.Resolve);
        }
        return allowed;
    }

    private static string Label(string repair) => repair switch
    {
        Repairs.RetryCredit => "Retry credit",
        Repairs.Recheck => "Recheck",
        Repairs.Refund => "Refund",
        _ => "Resolve",
    };

    /// <summary>What an event says: its fields, as the events endpoint serializes them.</summary>
    private static string Describe(object data)
    {
        var json = JsonSerializer.SerializeToElement(data, data.GetType(), EventJson);
        if (json.ValueKind != JsonValueKind.Object)
        {
            return E(json.ToString());
        }
        var html = new StringBuilder("<dl class=\"data\">");
        foreach (var property in json.EnumerateObject())
        {
            var value = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Null => "—",
                _ => property.Value.GetRawText(),
            };
            html.Append($"<dt>{E(property.Name)}</dt><dd>{E(value)}</dd>");
        }
        return html.Append("</dl>").ToString();
    }

    /// <summary>The posted form, if it is one and carries a valid anti-forgery token; otherwise null.</summary>
    private static async Task<IFormCollection?> Form(HttpContext http, IAntiforgery antiforgery)
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

    private static IResult Forged(HttpContext http) =>
        Message(http, StatusCodes.Status400BadRequest, "The form has expired", "The form was not sent from this console, or it expired: open the page again and repeat.");

    private static IResult NotFound(HttpContext http, Guid transferId) =>
        Message(http, StatusCodes.Status404NotFound, "No such transfer", $"There is no transfer {transferId}.");
}
