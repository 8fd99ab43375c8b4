using MassTransit;
using Saga.Components.Hosting;
using Saga.Components.Ledgers;

// `healthcheck` asks the ledger running beside it whether it is ready (a container's health check) and exits.
if (args is ["healthcheck"])
{
    return await HealthProbe.Run();
}

// A ledger service: one process per ledger id (Ledger:Id), its own schema and queue.
// appsettings.json sits beside the binary, wherever the process is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// RabbitMQ and PostgreSQL, from the "RabbitMq" and "Postgres" sections.
builder.Services.AddSagaServers(builder.Configuration);

// Accounts, the producer's local transactions and the consumer's credits.
var ledger = builder.Services.AddLedger(builder.Configuration);
// Faults are for tests and the demo, which run their ledgers in Development: any other environment is a real one.
if (!builder.Environment.IsDevelopment() && builder.Configuration.GetValue<bool>("Ledger:FaultInjection:Enabled"))
{
    throw new InvalidOperationException(
        $"Ledger:FaultInjection:Enabled is only allowed in the Development environment, and this is {builder.Environment.EnvironmentName}: switch it off.");
}
builder.Services.AddHostedService<LedgerMigration>();

// Its consumers on one queue, Queues.Ledger(id): submit, check-back, credit, void, accounts.
builder.Services.AddMassTransit(x =>
{
    x.AddLedgerConsumers(ledger);
    x.UsingSagaRabbitMq(builder.Configuration);
});

builder.Services.AddSagaTelemetry(builder.Configuration, $"saga-ledger-{ledger.Id.ToLowerInvariant()}");
builder.Services.AddSagaHealthChecks();
var app = builder.Build();
app.MapSagaHealth();
app.MapSagaMetrics();
app.Run();
return 0;
