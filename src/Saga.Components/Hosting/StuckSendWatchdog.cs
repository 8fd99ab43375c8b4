using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Saga.Components.Hosting;

/// <summary>
/// Watches every send of this host (MassTransit's send transport, which publishes go through too), from just before the broker is asked to just after it confirms. After a
/// broker restart the RabbitMQ client can leave a publish waiting for ever for its confirm (rabbitmq-dotnet-client
/// #1930, open for 7.2.2; seen here under chaos): the message being handled never ends, is never acknowledged, and
/// its transfer waits on check-backs sent through the same broken channel. A send that has waited
/// <see cref="ConsumerWatchdogOptions.SendStuckAfter"/> stops the host with <see cref="ConsumerWatchdog.ExitCode"/>, so
/// whatever supervises it starts a fresh one; the broker hands the unacknowledged messages to another consumer.
/// While the broker is away a send does not reach this watch (MassTransit waits for a channel first).
/// </summary>
public sealed class StuckSendWatchdog(
    IOptions<ConsumerWatchdogOptions> options,
    TimeProvider clock,
    ILogger<StuckSendWatchdog> logger,
    IHostApplicationLifetime? lifetime = null) : BackgroundService, ISendObserver
{
    private readonly ConcurrentDictionary<object, (long Since, Uri? Destination)> _sends = new(ReferenceEqualityComparer.Instance);

    public Task PreSend<T>(SendContext<T> context) where T : class => Started(context, context.DestinationAddress);

    public Task PostSend<T>(SendContext<T> context) where T : class => Ended(context);

    public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Ended(context);

    internal Task Started(object send, Uri? destination)
    {
        _sends[send] = (clock.GetTimestamp(), destination);
        return Task.CompletedTask;
    }

    internal Task Ended(object send)
    {
        _sends.TryRemove(send, out _);
        return Task.CompletedTask;
    }

    /// <summary>The send waiting longest, if it has waited past the limit.</summary>
    internal (TimeSpan Waited, Uri? Destination)? Stuck()
    {
        var now = clock.GetTimestamp();
        (TimeSpan Waited, Uri? Destination)? oldest = null;
        foreach (var (since, destination) in _sends.Values)
        {
            var waited = clock.GetElapsedTime(since, now);
            if (oldest is null || waited > oldest.Value.Waited)
            {
                oldest = (waited, destination);
            }
        }
        return oldest?.Waited >= options.Value.SendStuckAfter ? oldest : null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        try
        {
            using var timer = new PeriodicTimer(options.Value.Interval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (Stuck() is { } stuck)
                {
                    logger.LogCritical(
                        "A send to {Destination} has waited {Seconds:0} s for the broker: stopping with exit code {ExitCode} to be started afresh",
                        stuck.Destination, stuck.Waited.TotalSeconds, ConsumerWatchdog.ExitCode);
                    Environment.ExitCode = ConsumerWatchdog.ExitCode;
                    lifetime?.StopApplication();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
