using Marten;
using MassTransit;
using Saga.Components.EventStore;
using Saga.Components.Hosting;
using Saga.Components.Transfers;
using Saga.Contracts;

// `healthcheck` asks the host running beside it whether it is ready (a container's health check) and exits.
if (args is ["healthcheck"])
{
    return await HealthProbe.Run();
}

// The coordinator: plays RocketMQ's broker for every transfer.
// appsettings.json sits beside the binary, wherever the process is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// RabbitMQ and PostgreSQL, from the "RabbitMq" and "Postgres" sections.
var postgres = builder.Services.AddSagaServers(builder.Configuration);

// Each transfer's saga as a Marten event stream, with its queryable view.
builder.Services.AddMarten(o => TransferEventStore.Configure(o, postgres.ConnectionString)).ApplyAllDatabaseChangesOnStartup();

// The saga's timing, and the periodic scan that finds due check-backs.
builder.Services.Configure<TransferSagaOptions>(builder.Configuration.GetSection(TransferSagaOptions.Section));
var saga = builder.Configuration.GetSection(TransferSagaOptions.Section).Get<TransferSagaOptions>() ?? new TransferSagaOptions();
builder.Services.AddQueueBacklog(Queues.Coordinator, saga.MaxBacklog);
builder.Services.AddCheckBackScan(builder.Configuration);

// The durable scheduler (Quartz on PostgreSQL) for rare delayed work: scheduled redelivery of credits.
builder.Services.AddDurableScheduler(postgres.ConnectionString);

// The transfer saga on Queues.Coordinator and, for new transfers, Queues.HalfMessages; the scheduler on Queues.Scheduler.
builder.Services.AddMassTransit(x =>
{
    x.AddSagaStateMachine<TransferStateMachine, TransferState, TransferStateDefinition>().EventSourcedRepository();
    x.AddDurableSchedulerConsumers();
    x.UsingSagaRabbitMq(builder.Configuration, TransferStateDefinition.ConfigureEndpoints);
});

builder.Services.AddSagaTelemetry(builder.Configuration, "saga-coordinator");
builder.Services.AddSagaHealthChecks();
var app = builder.Build();
app.MapSagaHealth();
app.MapSagaMetrics();
app.Run();
return 0;
