using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Net.Http.Headers;
using Saga.Components.Ledgers;

namespace Saga.Api.Endpoints;

/// <summary>The Api's edge: reading bodies strictly, and problem details that name the field and the reason.</summary>
internal static class Http
{
    // Strict: names exactly as documented (case-sensitive), each once, none unknown, numbers as JSON numbers.
    // ReadBody names every such problem itself first; these settings make the deserializer refuse them too.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(), // ReadBody reads the requests' shapes from it
        PropertyNameCaseInsensitive = false,
        NumberHandling = JsonNumberHandling.Strict,
        AllowDuplicateProperties = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>A name the client sent, as it is echoed in a problem: cut to an id's length, so no answer repeats a megabyte.</summary>
    public static string Echo(string name) => name.Length > AccountIds.MaxLength ? name[..AccountIds.MaxLength] + "…" : name;

    /// <summary>How long a client should wait before sending again a request answered with 503.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>
    /// The body as <typeparamref name="T"/>, or the problem that says why not: 415 not JSON, 413 too large,
    /// 400 malformed, naming each field that is repeated, unknown or of the wrong JSON type.
    /// </summary>
    public static async Task<(T? Body, IResult? Problem)> ReadBody<T>(HttpRequest request, IOptions<ApiOptions> options) where T : class
    {
        if (!IsJson(request.ContentType))
        {
            return (null, Problem(415, "The body must be JSON", "Send the body with Content-Type: application/json (charset utf-8, if any)."));
        }
        var limit = options.Value.MaxBodyBytes;
        if (request.ContentLength > limit)
        {
            return (null, TooLarge(limit));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                return (null, TooLarge(limit));
            }
        }
        if (buffer.Length == 0)
        {
            return (null, Problem(400, "The request has no body", "Send a JSON object."));
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
        catch (JsonException e)
        {
            return (null, Problem(400, "The body is not valid JSON", e.Message));
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, Problem(400, "The body is not a JSON object", "Send a JSON object."));
            }
            var errors = new Dictionary<string, string[]>();
            CheckShape(document.RootElement, Json.GetTypeInfo(typeof(T)), "", errors);
            if (errors.Count > 0)
            {
                return (null, Invalid(errors));
            }
            try
            {
                return (document.Deserialize<T>(Json)!, null);
            }
            catch (JsonException e)
            {
                // CheckShape should have named it; the path still does, the message would name .NET types.
                var field = e.Path is { Length: > 2 } path ? path[2..] : "body";
                return (null, Invalid(new() { [field] = [$"{field} does not fit this request"] }));
            }
        }
    }

    /// <summary><c>application/json</c>, with no parameter but <c>charset=utf-8</c>.</summary>
    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        && media.Parameters.All(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase) && p.Value.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>Names each property of <paramref name="json"/> that is repeated, unknown, or not the JSON type its field takes.</summary>
    private static void CheckShape(JsonElement json, JsonTypeInfo type, string prefix, Dictionary<string, string[]> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in json.EnumerateObject())
        {
            var field = prefix + Echo(property.Name);
            if (!seen.Add(property.Name))
            {
                errors[field] = [$"{field} appears more than once"];
                continue;
            }
            if (type.Properties.FirstOrDefault(p => p.Name == property.Name) is not { } member)
            {
                errors[field] = [$"{field} is not a field of this request (names are case-sensitive): {string.Join(", ", type.Properties.Select(p => prefix + p.Name))}"];
                continue;
            }
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null)
            {
                continue; // the request's own validation says whether the field is required
            }
            var valueType = Nullable.GetUnderlyingType(member.PropertyType) ?? member.PropertyType;
            if (valueType == typeof(string) && value.ValueKind != JsonValueKind.String)
            {
                errors[field] = [$"{field} must be a JSON string"];
            }
            else if (valueType == typeof(decimal) && value.ValueKind != JsonValueKind.Number)
            {
                errors[field] = [$"{field} must be a JSON number, not in quotes"];
            }
            else if (valueType == typeof(decimal) && !value.TryGetDecimal(out _))
            {
                errors[field] = [$"{field} is out of range"];
            }
            else if (Json.GetTypeInfo(valueType) is { Kind: JsonTypeInfoKind.Object } nested)
            {
                if (value.ValueKind == JsonValueKind.Object)
                {
                    CheckShape(value, nested, field + ".", errors);
                }
                else
                {
                    errors[field] = [$"{field} must be a JSON object"];
                }
            }
        }
    }

    public static ProblemHttpResult Problem(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, extensions: extensions);

    public static IResult Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request has invalid fields");

    /// <summary>503 (with Retry-After, see <see cref="CompleteProblems"/>): <paramref name="service"/> did not answer within <see cref="ApiOptions.RequestTimeout"/>.</summary>
    public static IResult NoAnswer(string service, string detail) => Problem(503, $"{service} did not answer in time", detail);

    public static string? AmountError(decimal? amount, decimal max) => amount switch
    {
        null => "amount is required",
        <= 0 => "amount must be greater than zero",
        { } a when a > max => $"amount must be at most {max}",
        { } a when decimal.Round(a, 2) != a => "amount has more than two decimal places",
        _ => null,
    };

    /// <summary>
    /// Who calls: the token's <c>sub</c>, unique and stable where a display name is neither. It scopes
    /// Idempotency-Keys and is recorded as the operator of a repair. A token without one is refused at
    /// authentication (ApiAuthentication.cs), so an authorized request always has it.
    /// </summary>
    public static string Caller(HttpContext http) =>
        http.User.FindFirst(JwtRegisteredClaimNames.Sub)?.Value is { Length: > 0 } sub
            ? sub
            : throw new InvalidOperationException("An authenticated caller without a sub: tokens without one must be refused at authentication.");

    /// <summary>
    /// The safety net behind the endpoints' own checks, so that no request is a 500 for the client's doing or a
    /// service's silence: a request the framework cannot bind keeps its 4xx, a ledger, the coordinator or the
    /// database that does not answer is 503 (with Retry-After, see <see cref="CompleteProblems"/>).
    /// </summary>
    public static ExceptionHandlerOptions Exceptions => new()
    {
        StatusCodeSelector = e => e switch
        {
            BadHttpRequestException bad => bad.StatusCode,
            RequestTimeoutException or TimeoutException => StatusCodes.Status503ServiceUnavailable,
            _ when DatabaseAway(e) => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status500InternalServerError,
        },
    };

    /// <summary>
    /// PostgreSQL away or just restarted, however deep Marten wrapped it: a broken or refused connection, a server
    /// shutting down, or a pooled connection's prepared statement gone with the server that restarted (26000).
    /// </summary>
    public static bool DatabaseAway(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is Npgsql.NpgsqlException { IsTransient: true } ||
                e is Npgsql.PostgresException { SqlState: "26000" } ||
                e is Npgsql.PostgresException p && (p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("57P", StringComparison.Ordinal)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The longest title, detail, type and instance a problem carries (the document promises them, so the rest is cut).</summary>
    public const int MaxProblemTitle = 200, MaxProblemDetail = 1000, MaxProblemUri = 2048;

    /// <summary>The most messages a validation problem gives for one field (the Api gives one).</summary>
    public const int MaxFieldErrors = 5;

    /// <summary>
    /// Every problem, whichever code answered it (endpoint, exception handler, status code page, rate limiter): a 503
    /// tells the client when to come back, and no text is longer than the document says.
    /// </summary>
    public static void CompleteProblems(ProblemDetailsOptions options) => options.CustomizeProblemDetails = context =>
    {
        var problem = context.ProblemDetails;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable && !context.HttpContext.Response.Headers.ContainsKey(HeaderNames.RetryAfter))
        {
            context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            problem.Detail ??= "A service behind the Api did not answer in time; send the request again in a moment.";
        }
        problem.Title = Cut(problem.Title, MaxProblemTitle);
        problem.Detail = Cut(problem.Detail, MaxProblemDetail);
        problem.Type = Cut(problem.Type, MaxProblemUri);
        problem.Instance = Cut(problem.Instance, MaxProblemUri);
        if (problem is HttpValidationProblemDetails invalid)
        {
            foreach (var field in invalid.Errors.Keys.ToList())
            {
                invalid.Errors[field] = [.. invalid.Errors[field].Take(MaxFieldErrors).Select(m => Cut(m, MaxProblemDetail)!)];
            }
        }
    };

    private static string? Cut(string? text, int max) => text is { Length: var length } && length > max ? text[..(max - 1)] + "…" : text;

    private static ProblemHttpResult TooLarge(int limit) => Problem(413, "The body is too large", $"Bodies are limited to {limit} bytes.");
}
