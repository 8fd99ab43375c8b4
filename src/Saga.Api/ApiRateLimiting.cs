using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Saga.Api;

internal static class ApiRateLimiting
{
    /// <summary>
    /// A token bucket of Api:PermitsPerSecond for each caller: the token's sub, seen because the limiter
    /// runs after authentication (Program.cs), else the client's address. Over it, 429 as problem details.
    /// </summary>
    public static IServiceCollection AddApiRateLimiting(this IServiceCollection services) =>
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var permits = http.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.PermitsPerSecond;
                return RateLimitPartition.GetTokenBucketLimiter(http.User.FindFirst(JwtRegisteredClaimNames.Sub)?.Value ?? http.Connection.RemoteIpAddress?.ToString() ?? "anonymous",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = permits, TokensPerPeriod = permits, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
                    });
            });
            // The bucket refills every second: that is when a refused caller may try again.
            o.OnRejected = (context, cancellationToken) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = Endpoints.Http.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return new ValueTask(Results.Problem(statusCode: 429, title: "Too many requests",
                    detail: "Slow down and retry after a second.").ExecuteAsync(context.HttpContext));
            };
        });

    /// <summary>The headers that tell a caller its limit: requests per window, and the window's seconds (IETF RateLimit fields, draft 7).</summary>
    public const string LimitHeader = "RateLimit-Limit", ResetHeader = "RateLimit-Reset";

    /// <summary>
    /// The limiter, and on every answer it governs (all but the probes) the caller's limit: <see cref="LimitHeader"/>
    /// (<see cref="ApiOptions.PermitsPerSecond"/>) and <see cref="ResetHeader"/> (the bucket refills every second).
    /// </summary>
    public static WebApplication UseApiRateLimiting(this WebApplication app)
    {
        var limit = app.Services.GetRequiredService<IOptions<ApiOptions>>().Value.PermitsPerSecond.ToString(CultureInfo.InvariantCulture);
        var reset = Endpoints.Http.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var (http, limit, reset) = ((HttpContext, string, string))state;
                if (http.GetEndpoint()?.Metadata.GetMetadata<DisableRateLimitingAttribute>() is null)
                {
                    http.Response.Headers[LimitHeader] = limit;
                    http.Response.Headers[ResetHeader] = reset;
                }
                return Task.CompletedTask;
            }, (context, limit, reset));
            return next(context);
        });
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Browsers of <see cref="ApiOptions.AllowedOrigins"/> may call the JSON API with a bearer token (no cookie) and read its headers.</summary>
    public static IServiceCollection AddApiCors(this IServiceCollection services, IConfiguration configuration) =>
        services.AddCors(o => o.AddDefaultPolicy(p => p
            .WithOrigins(configuration.GetSection(ApiOptions.Section).Get<ApiOptions>()?.AllowedOrigins ?? [])
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .WithHeaders(Microsoft.Net.Http.Headers.HeaderNames.Authorization, Microsoft.Net.Http.Headers.HeaderNames.ContentType, Endpoints.TransferValidation.IdempotencyKeyHeader)
            .WithExposedHeaders(Microsoft.Net.Http.Headers.HeaderNames.Location, Microsoft.Net.Http.Headers.HeaderNames.RetryAfter, LimitHeader, ResetHeader)));
}
