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
/// It also stops the host when every send to one destination has been refused by the broker (basic.nack) for
/// <see cref="ConsumerWatchdogOptions.SendRejectedFor"/>: after a cluster node was killed, RabbitMQ 3.10 can
/// leave a channel asking the dead node for a quorum queue's leader and nack each publish until that node
/// returns (fixed in 3.12.5); a fresh process has fresh channels.
/// </summary>
public sealed class StuckSendWatchdog(
    IOptions<ConsumerWatchdogOptions> options,
    TimeProvider clock,
    ILogger<StuckSendWatchdog> logger,
    IHostApplicationLifetime? lifetime = null) : BackgroundService, ISendObserver
{
    private readonly ConcurrentDictionary<object, (long Since, Uri? Destination)> _sends = new(ReferenceEqualityComparer.Instance);

    // Destination → when the broker began refusing every send to it (removed by the next confirmed one).
    private readonly ConcurrentDictionary<Uri, long> _refusedSince = new();

    public Task PreSend<T>(SendContext<T> context) where T : class => Started(context, context.DestinationAddress);

    public Task PostSend<T>(SendContext<T> context) where T : class => Confirmed(context, context.DestinationAddress);

    public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Faulted(context, context.DestinationAddress, exception);

    internal Task Confirmed(object send, Uri? destination)
    {
        if (destination is not null)
        {
            _refusedSince.TryRemove(destination, out _);
        }
        return Ended(send);
    }

    internal Task Faulted(object send, Uri? destination, Exception exception)
    {
        if (destination is not null && RefusedByBroker(exception))
        {
            _refusedSince.TryAdd(destination, clock.GetTimestamp());
        }
        return Ended(send);
    }

    /// <summary>The broker's basic.nack: a returned (unroutable) message is another matter, and so is a lost connection.</summary>
    private static bool RefusedByBroker(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is RabbitMQ.Client.Exceptions.PublishException { IsReturn: false })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The destination refused longest, if every send to it has been refused past the limit.</summary>
    internal (TimeSpan For, Uri Destination)? Refused()
    {
        var now = clock.GetTimestamp();
        (TimeSpan For, Uri Destination)? longest = null;
        foreach (var (destination, since) in _refusedSince)
        {
            var refused = clock.GetElapsedTime(since, now);
            if (longest is null || refused > longest.Value.For)
            {
                longest = (refused, destination);
            }
        }
        return longest?.For >= options.Value.SendRejectedFor ? longest : null;
    }

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
                var why = Stuck() is { } stuck
                    ? $"A send to {stuck.Destination} has waited {stuck.Waited.TotalSeconds:0} s for the broker"
                    : Refused() is { } refused
                        ? $"The broker has refused every send to {refused.Destination} for {refused.For.TotalSeconds:0} s"
                        : null;
                if (why is not null)
                {
                    logger.LogCritical("{Why}: stopping with exit code {ExitCode} to be started afresh, with new channels", why, ConsumerWatchdog.ExitCode);
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
