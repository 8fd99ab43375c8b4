using Marten;
using MassTransit;
using Saga.Api;
using Saga.Api.OperatorConsole;
using Saga.Api.Endpoints;
using Saga.Components.EventStore;
using Saga.Components.Hosting;
using Saga.Contracts;

// `dev-token --roles transfers,operator [--subject sub]` prints a development token and exits.
if (args is ["dev-token", ..])
{
    return DevToken.Print(args[1..]);
}

// `healthcheck` asks the host running beside it whether it is ready (a container's health check) and exits.
if (args is ["healthcheck"])
{
    return await HealthProbe.Run();
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

// The Api's record of the transfers it accepted (Idempotency-Key and body), in its own schema.
builder.Services.AddSingleton<SubmittedTransfers>();
builder.Services.AddQueueBacklog(Queues.HalfMessages,
    builder.Configuration.GetSection(ApiOptions.Section).Get<ApiOptions>()?.MaxWaitingTransfers ?? new ApiOptions().MaxWaitingTransfers);

// Half messages and requests to the coordinator, requests to the ledgers.
builder.Services.AddMassTransit(x =>
{
    x.AddRepairRequestClients();
    x.UsingSagaRabbitMq(builder.Configuration);
});

// Bearer tokens: an OIDC authority in production, the development key locally; a policy for each role.
builder.Services.AddApiAuthentication(builder.Configuration, builder.Environment);

// The operator console's pages at /console: a cookie of their own, which the JSON API never accepts.
builder.Services.AddConsole(builder.Configuration, builder.Environment);

// Problem details for every error; a flood gets 429, per caller; browsers of the configured origins may call (CORS).
builder.Services.AddProblemDetails(Http.CompleteProblems);
builder.Services.AddApiRateLimiting();
builder.Services.AddApiCors(builder.Configuration);

builder.Services.AddApiDocument();
builder.Services.AddSagaTelemetry(builder.Configuration, "saga-api");
builder.Services.AddSingleton<ErrorQueueMetrics>();
builder.Services.AddSagaHealthChecks();

var app = builder.Build();
await app.Services.GetRequiredService<SubmittedTransfers>().Migrate(CancellationToken.None);
app.Services.GetRequiredService<ErrorQueueMetrics>();
app.UseConsole();
app.UseExceptionHandler(Http.Exceptions);
app.UseStatusCodePages();
app.UseCors(); // before authentication: a browser's preflight carries no token
app.UseAuthentication();
app.UseApiRateLimiting(); // after authentication: it partitions by the caller's sub
app.UseAuthorization();
app.MapApiDocument();
app.MapSagaHealth();
app.MapSagaMetrics();
app.MapAccountEndpoints();
app.MapTransferEndpoints();
app.MapConsole();
app.Run();
return 0;

/// <summary>For WebApplicationFactory.</summary>
public partial class Program;
