using System.Threading.RateLimiting;
using Marten;
using MassTransit;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Saga.Api;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Hosting;
using Saga.Components.Security;
using Saga.Contracts;

// `dev-token --roles transfers,operator [--subject sub]` prints a development token and exits.
if (args is ["dev-token", ..])
{
    return DevToken.Print(args[1..]);
}

// The Api: HTTP in, messages out; reads transfers from the coordinator's event store.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.Configure<ApiOptions>(builder.Configuration.GetSection(ApiOptions.Section));

// RabbitMQ and PostgreSQL, from the "RabbitMq" and "Postgres" sections.
var postgres = builder.Services.AddSagaServers(builder.Configuration);

// Read-only access to transfers: the views and streams the coordinator writes.
builder.Services.AddMarten(o =>
{
    TransferEventStore.Configure(o, postgres.ConnectionString);
    o.AutoCreateSchemaObjects = JasperFx.AutoCreate.None;
});

// Requests to the ledgers and the coordinator.
builder.Services.AddMassTransit(x =>
{
    foreach (var repair in new[] { typeof(RetryCredit), typeof(RecheckTransfer), typeof(RefundTransfer), typeof(ResolveTransfer) })
    {
        x.AddRequestClient(repair, Queues.CoordinatorAddress);
    }
    x.UsingSagaRabbitMq(builder.Configuration);
});

// Bearer tokens: an OIDC authority in production, the development key locally.
var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
if (!builder.Environment.IsDevelopment() && auth.SigningKey == AuthOptions.DevelopmentSigningKey)
{
    throw new InvalidOperationException("Auth:SigningKey is the development key: configure a real key or an OIDC authority outside Development.");
}
builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
{
    o.MapInboundClaims = false;
    o.Authority = auth.Authority;
    o.TokenValidationParameters = new TokenValidationParameters
    {
        ValidIssuer = auth.Issuer,
        ValidAudience = auth.Audience,
        IssuerSigningKey = auth.Key,
        RoleClaimType = "role",
        NameClaimType = JwtRegisteredClaimNames.Sub,
    };
    // The caller is the sub (Http.Caller): without one a token identifies nobody, so it authenticates nobody.
    o.Events = new JwtBearerEvents
    {
        OnTokenValidated = context =>
        {
            if (context.Principal?.FindFirst(JwtRegisteredClaimNames.Sub)?.Value is not { Length: > 0 })
            {
                context.Fail("The token has no sub claim.");
            }
            return Task.CompletedTask;
        },
    };
});
builder.Services.AddAuthorizationBuilder()
    .AddPolicy(Roles.Transfers, p => p.RequireRole(Roles.Transfers, Roles.Operator))
    .AddPolicy(Roles.Operator, p => p.RequireRole(Roles.Operator));

// Problem details for every error; a flood gets 429, per caller.
builder.Services.AddProblemDetails();
builder.Services.AddRateLimiter(o =>
{
    o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
    o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
    {
        var permits = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiOptions>>().Value.PermitsPerSecond;
        return RateLimitPartition.GetTokenBucketLimiter(http.User.FindFirst(JwtRegisteredClaimNames.Sub)?.Value ?? http.Connection.RemoteIpAddress?.ToString() ?? "anonymous",
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = permits, TokensPerPeriod = permits, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
            });
    });
    o.OnRejected = (context, cancellationToken) => new ValueTask(Results.Problem(statusCode: 429, title: "Too many requests",
        detail: "Slow down and retry after a second.").ExecuteAsync(context.HttpContext));
});

builder.Services.AddOpenApi();
builder.Services.AddSagaTelemetry(builder.Configuration, "saga-api");
builder.Services.AddSingleton<ErrorQueueMetrics>();
builder.Services.AddSagaHealthChecks();

var app = builder.Build();
app.Services.GetRequiredService<ErrorQueueMetrics>();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.MapOpenApi();
app.MapSagaHealth();
app.MapSagaMetrics();
app.MapAccountEndpoints();
app.MapTransferEndpoints();
app.Run();
return 0;

/// <summary>For WebApplicationFactory.</summary>
public partial class Program;
