using System.Threading.RateLimiting;
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
}
