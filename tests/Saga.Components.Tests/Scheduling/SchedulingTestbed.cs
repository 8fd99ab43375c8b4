using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Headers = MassTransit.Headers;
using Saga.Components.Hosting;
using Saga.Components.Scheduling;
using Saga.Testing;

namespace Saga.Components.Tests.Scheduling;

public sealed record SchedulingPinged(Guid Id, bool FailFirstDelivery = false);

/// <summary>What a consumer saw of one delivery.</summary>
public sealed record Arrival(SchedulingPinged Message, DateTime ReceivedAt, Guid? MessageId, Guid? CorrelationId, Guid? ConversationId,
    Guid? InitiatorId, Guid? RequestId, Uri? ResponseAddress, Uri? FaultAddress, Headers Headers, Headers TransportHeaders,
    int RedeliveryCount, Guid? TokenId);

/// <summary>Records every delivery; a message asking for it fails its first one.</summary>
public sealed class Probe(ConcurrentQueue<Arrival> arrivals) : IConsumer<SchedulingPinged>
{
    public Task Consume(ConsumeContext<SchedulingPinged> context)
    {
        arrivals.Enqueue(new Arrival(context.Message, DateTime.UtcNow, context.MessageId, context.CorrelationId, context.ConversationId,
            context.InitiatorId, context.RequestId, context.ResponseAddress, context.FaultAddress, context.Headers,
            context.ReceiveContext.TransportHeaders, context.GetRedeliveryCount(), context.GetSchedulingTokenId()));
        return context.Message.FailFirstDelivery && context.GetRedeliveryCount() == 0
            ? throw new InvalidOperationException("first delivery fails")
            : Task.CompletedTask;
    }
}

/// <summary>The warnings and errors the nodes logged, by category.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(LogRecorder log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Entries.Enqueue((category, logLevel, formatter(state, exception)));
    }
}

/// <summary>
/// One test's world: its own PostgreSQL schema for the Quartz tables and its own RabbitMQ queues,
/// all removed at the end, and scheduler nodes — generic hosts with the bus, the durable scheduler
/// and a <see cref="Probe"/> — started and stopped as the test says.
/// </summary>
public sealed class SchedulingTestbed : IAsyncLifetime
{
    // A ceiling, never a wait: what takes 6 s on an idle machine takes 15 on CI's loaded two cores.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly List<IHost> _hosts = [];
    private readonly List<string> _queues = [];
    private readonly MeterListener _meters = new();
    private readonly ConcurrentQueue<(Meter Meter, string? Operation, long Value)> _failures = new();

    public SchedulingTestbed()
    {
        // Every node's, and other tests' too: Failures picks out one node's meter.
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == Telemetry.SagaMeter && instrument.Name == "saga.scheduler.failures")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? operation = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "operation")
                {
                    operation = tag.Value as string;
                }
            }
            _failures.Enqueue((instrument.Meter, operation, value));
        });
        _meters.Start();
    }

    public string Schema => "test_sched_" + _suffix;
    public string SchedulerQueue => "scheduler-" + _suffix;
    public string ProbeQueue => "probe-" + _suffix;
    public Uri ProbeAddress => new($"queue:{ProbeQueue}");

    /// <summary>A queue name of this test's, deleted with the rest.</summary>
    public string Queue(string prefix)
    {
        var name = $"{prefix}-{_suffix}";
        _queues.Add(name);
        return name;
    }
    public ConcurrentQueue<Arrival> Arrivals { get; } = new();
    public LogRecorder Log { get; } = new();

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        await Servers.RequireRabbitMq();
    }

    /// <summary>Starts a node and returns once its bus is up; the scheduler starts firing as soon as the bus is ready.</summary>
    public async Task<IHost> StartNode(Action<IReceiveEndpointConfigurator>? probeEndpoint = null, Action<DurableSchedulerOptions>? scheduler = null,
        Action<HostOptions>? hosting = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (hosting is not null)
        {
            builder.Services.Configure(hosting);
        }
        builder.Logging.AddFilter(level => level >= LogLevel.Warning).AddProvider(Log);
        builder.Services.AddSingleton(Arrivals);
        builder.Services.AddDurableScheduler(Servers.PostgresConnectionString, Schema, o =>
        {
            o.Destinations = $"^[a-z]+-{_suffix}$"; // this testbed's own queues stand in for the ledgers'
            o.OnlyToSendersOwnQueue = false; // its bus signs as no service
            scheduler?.Invoke(o);
        });
        builder.Services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true);
        builder.Services.AddMassTransit(x =>
        {
            x.AddDurableSchedulerConsumers(e =>
            {
                e.Name = SchedulerQueue;
                e.ConfigureConsumeTopology = false;
            });
            x.AddMessageScheduler(new Uri($"queue:{SchedulerQueue}"));
            x.AddConsumer<Probe>().Endpoint(e =>
            {
                e.Name = ProbeQueue;
                e.ConfigureConsumeTopology = false;
                if (probeEndpoint is not null)
                {
                    e.AddConfigureEndpointCallback(probeEndpoint);
                }
            });
            x.UsingRabbitMq((context, cfg) =>
            {
                var rabbit = Servers.RabbitMq();
                cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                });
                cfg.UseMessageScheduler(new Uri($"queue:{SchedulerQueue}"));
                cfg.ConfigureEndpoints(context);
            });
        });
        var host = builder.Build();
        _hosts.Add(host);
        // Outside the caller's async flow: MassTransit keeps its log context there, and a stopped node's would outlive its logger factory.
        Task starting;
        using (ExecutionContext.SuppressFlow())
        {
            starting = Task.Run(() => host.StartAsync());
        }
        await starting;
        return host;
    }

    public async Task StopNode(IHost host)
    {
        _hosts.Remove(host);
        await host.StopAsync();
        host.Dispose();
    }

    /// <summary>What <paramref name="node"/> counted on saga.scheduler.failures for the operation (store or send).</summary>
    public long Failures(IHost node, string operation)
    {
        var meter = node.Services.GetRequiredService<SchedulerMetrics>().Meter;
        return _failures.Where(f => f.Meter == meter && f.Operation == operation).Sum(f => f.Value);
    }

    /// <summary>The warnings the nodes logged of <typeparamref name="TSource"/> about the schedule with this token.</summary>
    public IReadOnlyList<string> WarningsOf<TSource>(Guid tokenId) =>
        Log.Entries.Where(e => e.Category == typeof(TSource).FullName && e.Level == LogLevel.Warning && e.Message.Contains(tokenId.ToString("D"), StringComparison.Ordinal))
            .Select(e => e.Message).ToList();

    /// <summary>Makes the store refuse every new job, as a database that throws on the write would, until <see cref="RepairStore"/>.</summary>
    public Task BreakStore() => Sql($"""
        create or replace function {Schema}.refuse() returns trigger language plpgsql as $$ begin raise exception 'the test refuses this write'; end $$;
        create trigger refuse before insert or update on {Schema}.qrtz_job_details for each row execute function {Schema}.refuse();
        """);

    public Task RepairStore() => Sql($"drop trigger refuse on {Schema}.qrtz_job_details");

    /// <summary>Moves the stored schedule's times back, as if every node had been down since long before it was due.</summary>
    public Task Backdate(Guid tokenId, TimeSpan by) => Sql(
        $"update {Schema}.qrtz_triggers set next_fire_time = next_fire_time - {by.Ticks}, start_time = start_time - {by.Ticks} where trigger_name = '{tokenId:N}'");

    /// <summary>Messages ready in the queue; none in one not declared (an error queue comes with its first message).</summary>
    public async Task<uint> MessagesIn(string queue)
    {
        var count = 0u;
        try
        {
            await Rabbit(async channel => count = await channel.MessageCountAsync(queue));
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
        }
        return count;
    }

    public IReadOnlyList<Arrival> ArrivalsOf(Guid id) => Arrivals.Where(a => a.Message.Id == id).ToList();

    public async Task<Arrival> Single(Guid id)
    {
        await Until(() => Task.FromResult(ArrivalsOf(id).Count > 0), $"message {id} arrived");
        return Assert.Single(ArrivalsOf(id));
    }

    public Task Until(Func<Task<bool>> condition, string what) => Eventually.Until(condition, what, Patience);

    /// <summary>Whether the Quartz store holds a trigger (and job) for the schedule with this token.</summary>
    public async Task<bool> Stored(Guid tokenId)
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand(
            $"select (select count(*) from {Schema}.qrtz_triggers where trigger_name = $1) + (select count(*) from {Schema}.qrtz_job_details where job_name = $1)",
            connection) { Parameters = { new() { Value = tokenId.ToString("N") } } };
        return (long)(await count.ExecuteScalarAsync())! > 0;
    }

    private async Task Sql(string sql)
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>How many times Quartz has retried the stored schedule's firing; null when nothing is stored.</summary>
    public async Task<int?> RetryAttempt(Guid tokenId)
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var attempt = new NpgsqlCommand($"select retry_attempt from {Schema}.qrtz_triggers where trigger_name = $1", connection)
        {
            Parameters = { new() { Value = tokenId.ToString("N") } },
        };
        return await attempt.ExecuteScalarAsync() is int value ? value : null;
    }

    /// <summary>The stored schedule's Quartz trigger state (WAITING, ACQUIRED, ...); null when nothing is stored.</summary>
    public async Task<string?> TriggerState(Guid tokenId)
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var state = new NpgsqlCommand($"select trigger_state from {Schema}.qrtz_triggers where trigger_name = $1", connection)
        {
            Parameters = { new() { Value = tokenId.ToString("N") } },
        };
        return await state.ExecuteScalarAsync() as string;
    }

    public async Task<long> TriggerCount()
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand($"select count(*) from {Schema}.qrtz_triggers", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public static async Task Rabbit(Func<IChannel, Task> use)
    {
        await using var connection = await Servers.RabbitMq().Connect("tests: scheduling testbed");
        await using var channel = await connection.CreateChannelAsync();
        await use(channel);
    }

    public async Task DisposeAsync()
    {
        _meters.Dispose();
        foreach (var host in _hosts.ToList())
        {
            await StopNode(host);
        }

        await Rabbit(async channel =>
        {
            // MassTransit sends to a queue through an exchange of the same name; an error queue comes with a failed delivery.
            foreach (var name in _queues.Concat([SchedulerQueue, ProbeQueue]).SelectMany(q => new[] { q, q + "_error" }))
            {
                await channel.QueueDeleteAsync(name);
                await channel.ExchangeDeleteAsync(name);
            }
        });

        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop schema if exists {Schema} cascade", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
