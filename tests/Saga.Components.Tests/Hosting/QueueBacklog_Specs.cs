using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using Saga.Components.Hosting;
using Saga.Testing;

namespace Saga.Components.Tests.Hosting;

/// <summary>The admission control's measure, against the real broker: a queue of the test's own.</summary>
public sealed class QueueBacklog_Specs : IAsyncLifetime
{
    private readonly string _queue = "backlog-spec-" + Guid.NewGuid().ToString("N")[..8];
    private IConnection _connection = null!;
    private IChannel _channel = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequireRabbitMq();
        _connection = await Servers.RabbitMq().Connect("tests: queue backlog");
        _channel = await _connection.CreateChannelAsync();
        await _channel.QueueDeclareAsync(_queue, durable: false, exclusive: false, autoDelete: false);
    }

    public async Task DisposeAsync()
    {
        await _channel.QueueDeleteAsync(_queue);
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }

    [Fact]
    public async Task A_backlog_over_the_limit_holds_intake_until_it_is_worked_off()
    {
        using var backlog = new QueueBacklog(_queue, limit: 3, Options.Create(Servers.RabbitMq()), NullLogger<QueueBacklog>.Instance, TimeProvider.System);
        await backlog.StartAsync(default);
        for (var i = 0; i < 5; i++)
        {
            await _channel.BasicPublishAsync("", _queue, new byte[] { 1 });
        }

        await Eventually.Until(() => Task.FromResult(backlog.Messages), m => m == 5, "the backlog of 5 was seen", TimeSpan.FromSeconds(30));
        Assert.True(backlog.IsOver);
        var intake = backlog.UntilUnder(default);
        Assert.False(intake.IsCompleted);

        for (var i = 0; i < 2; i++)
        {
            await _channel.BasicGetAsync(_queue, autoAck: true);
        }
        await intake.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, backlog.Messages);
        await backlog.StopAsync(default);
    }
}
