using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Saga.Components.Hosting;
using Saga.Testing;

namespace Saga.Components.Tests.Hosting;

/// <summary>The watchdog against the real broker: a queue left without a consumer stops the host; a consumed one never does.</summary>
public sealed class ConsumerWatchdog_Specs : IAsyncLifetime
{
    private readonly string _queue = "watchdog-" + Guid.NewGuid().ToString("N")[..8];
    private readonly StopRecorder _lifetime = new();
    private IConnection _connection = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequireRabbitMq();
        _connection = await Servers.RabbitMq().Connect("tests: watchdog specs");
        await using var channel = await _connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(_queue, durable: false, exclusive: false, autoDelete: false);
    }

    public async Task DisposeAsync()
    {
        await using (var channel = await _connection.CreateChannelAsync())
        {
            await channel.QueueDeleteAsync(_queue);
        }
        await _connection.DisposeAsync();
        Environment.ExitCode = 0; // the watchdog sets the process's exit code when it trips: not this test run's
    }

    private ConsumerWatchdog Watchdog() => new(
        Options.Create(Servers.RabbitMq()),
        Options.Create(new ConsumerWatchdogOptions { Interval = TimeSpan.FromMilliseconds(100), GiveUpAfter = TimeSpan.FromSeconds(1) }),
        TimeProvider.System, NullLogger<ConsumerWatchdog>.Instance, _lifetime);

    [Fact]
    public async Task A_queue_left_without_a_consumer_stops_the_host_with_the_restart_exit_code()
    {
        using var watchdog = Watchdog();
        watchdog.Watch(_queue);
        await watchdog.StartAsync(default);

        await Eventually.Until(() => _lifetime.Stopped, "the watchdog stopped the host", TimeSpan.FromSeconds(30));
        Assert.Equal(ConsumerWatchdog.ExitCode, Environment.ExitCode);
        await watchdog.StopAsync(default);
    }

    [Fact]
    public async Task A_queue_with_a_consumer_is_left_alone()
    {
        await using var channel = await _connection.CreateChannelAsync();
        await channel.BasicConsumeAsync(_queue, autoAck: false, new AsyncEventingBasicConsumer(channel));
        using var watchdog = Watchdog();
        watchdog.Watch(_queue);
        await watchdog.StartAsync(default);

        await Eventually.Until(() => watchdog.Checks >= 20, "the watchdog checked 20 times", TimeSpan.FromSeconds(30)); // twice the time it may wait
        Assert.False(_lifetime.Stopped);
        await watchdog.StopAsync(default);
    }

    [Fact]
    public async Task A_queue_that_no_longer_exists_counts_as_having_no_consumer()
    {
        Assert.Equal(0u, await ConsumerWatchdog.Consumers(_connection, "watchdog-missing-" + Guid.NewGuid().ToString("N"), default));
    }

    [Theory]
    [InlineData("rabbitmq://127.0.0.1:5672/saga/ledger-a", "ledger-a")]
    [InlineData("rabbitmq://127.0.0.1/saga/host_Saga_bus_abc?temporary=true", "host_Saga_bus_abc")]
    [InlineData("rabbitmq://127.0.0.1/coordinator", "coordinator")]
    public void An_endpoint_is_watched_by_its_queue_name(string address, string queue) =>
        Assert.Equal(queue, ConsumerWatchdog.QueueName(new Uri(address)));

    private sealed class StopRecorder : IHostApplicationLifetime
    {
        public volatile bool Stopped;

        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stopped = true;
    }
}
