using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Saga.Api.Endpoints;

/// <summary>The Api's edge: reading bodies strictly, and problem details that name the field and the reason.</summary>
internal static class Http
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    public const int MaxIdLength = 64;

    /// <summary>The body as <typeparamref name="T"/>, or the problem that says why not (400 malformed, 413 too large).</summary>
    public static async Task<(T? Body, IResult? Problem)> ReadBody<T>(HttpRequest request, IOptions<ApiOptions> options) where T : class
    {
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
        try
        {
            return JsonSerializer.Deserialize<T>(buffer.ToArray(), Json) is { } body
                ? (body, null)
                : (null, Problem(400, "The body is not a JSON object", "Send a JSON object."));
        }
        catch (JsonException e)
        {
            return (null, Problem(400, "The body is not valid JSON for this request", $"{e.Message}"));
        }
    }

    public static ProblemHttpResult Problem(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, extensions: extensions);

    public static IResult Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request has invalid fields");

    /// <summary>Ids are printable and short: no control characters, at most <see cref="MaxIdLength"/> characters.</summary>
    public static string? IdError(string? id, string what) => id switch
    {
        null or "" => $"{what} is required",
        { Length: > MaxIdLength } => $"{what} is longer than {MaxIdLength} characters",
        _ when id.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) => $"{what} contains control or white-space characters",
        _ => null,
    };

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

    private static ProblemHttpResult TooLarge(int limit) => Problem(413, "The body is too large", $"Bodies are limited to {limit} bytes.");
}
