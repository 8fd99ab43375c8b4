using Marten;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Components.EventStore;
using Saga.Components.Hosting;
using Saga.Components.Transfers;
using Saga.Testing;

namespace Saga.Components.Tests.Hosting;

/// <summary>What every host says, and to whom: nothing to the internet, and no amounts or accounts in the log.</summary>
public sealed class Quiet_hosts_Specs
{
    private static readonly IConfiguration NoConfiguration = new ConfigurationBuilder().Build();

    [Fact]
    public async Task A_host_on_the_saga_broker_sends_no_usage_telemetry()
    {
        await using var provider = new ServiceCollection().AddLogging().AddMassTransit(x => x.UsingSagaRabbitMq(NoConfiguration)).BuildServiceProvider();

        Assert.False(provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }

    [Fact]
    public async Task A_host_with_the_saga_servers_logs_Marten_through_MartenLogging()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSagaServers(NoConfiguration);
        services.AddMarten(o => TransferEventStore.Configure(o, Servers.PostgresConnectionString));
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<MartenLogging>(provider.GetRequiredService<StoreOptions>().Logger());
    }

    [Fact]
    public async Task Expected_conflicts_are_logged_at_Debug_other_failures_at_Error_and_no_parameter_value_ever()
    {
        await Servers.RequirePostgres();
        var schema = "test_" + Guid.NewGuid().ToString("N")[..12];
        var log = new RecordingLogger();
        IReadOnlyList<(LogLevel Level, string Text)> recorded;
        using (var store = DocumentStore.For(o =>
        {
            TransferEventStore.Configure(o, Servers.PostgresConnectionString, schema);
            o.Logger(new MartenLogging(log));
        }))
        {
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            var id = Guid.NewGuid();
            var at = DateTimeOffset.UtcNow;
            var stored = new HalfMessageStored("A", "secret-alice", "B", "secret-bob", 4711.13m, "EUR", at, at, 15);
            await using (var session = store.LightweightSession())
            {
                session.Events.StartStream<TransferState>(id, stored);
                await session.SaveChangesAsync();
            }
            await using (var session = store.LightweightSession())
            {
                session.Events.StartStream<TransferState>(id, stored); // a second start of the stream
                await Assert.ThrowsAnyAsync<Exception>(() => session.SaveChangesAsync());
            }
            await using (var session = store.LightweightSession())
            {
                session.Events.Append(id, 7, new TransferCommitted("secret-source", at)); // a stale expected version
                await Assert.ThrowsAnyAsync<Exception>(() => session.SaveChangesAsync());
            }
            // Any other failure, as Marten reports a failed write: its command with the values bound.
            var logging = new MartenLogging(log);
            var command = new NpgsqlCommand("insert into accounts (id) values ($1)") { Parameters = { new() { Value = "secret-parameter" } } };
            logging.LogFailure(command, new PostgresException("division by zero", "ERROR", "ERROR", PostgresErrorCodes.DivisionByZero));
            // What was logged up to here. After the failed append Marten still writes on its own, and on a loaded machine
            // that write can come after the store is disposed and the schema dropped below: its failure is the spec's own doing.
            recorded = log.Records;
        }
        await using (var connection = new NpgsqlConnection(Servers.PostgresConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"drop schema if exists {schema} cascade", connection);
            await drop.ExecuteNonQueryAsync();
        }

        var conflicts = recorded.Where(r => r.Text.Contains("concurrency conflict")).ToList();
        Assert.NotEmpty(conflicts);
        Assert.All(conflicts, r => Assert.Equal(LogLevel.Debug, r.Level));
        var alarms = recorded.Where(r => r.Level >= LogLevel.Warning).ToList();
        Assert.True(alarms.Count == 1, $"one record at Warning or above, the failure logged last; found {alarms.Count}:\n"
            + string.Join("\n---\n", alarms.Select(r => $"{r.Level}: {(r.Text.Length > 800 ? r.Text[..800] : r.Text)}")));
        var error = alarms[0];
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains("insert into accounts (id) values ($1)", error.Text);
        Assert.All(log.Records, r => Assert.DoesNotContain("secret", r.Text));
        Assert.All(log.Records, r => Assert.DoesNotContain("4711", r.Text));
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly List<(LogLevel Level, string Text)> _records = [];

        public IReadOnlyList<(LogLevel Level, string Text)> Records
        {
            get
            {
                lock (_records)
                {
                    return [.. _records];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_records)
            {
                _records.Add((logLevel, formatter(state, exception) + Environment.NewLine + exception));
            }
        }
    }
}
