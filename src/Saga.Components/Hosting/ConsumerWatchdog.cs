using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Saga.Components.Hosting;

/// <summary>Configuration section "ConsumerWatchdog".</summary>
public sealed class ConsumerWatchdogOptions
{
    public const string Section = "ConsumerWatchdog";

    public bool Enabled { get; set; } = true;

    /// <summary>How often the broker is asked for each endpoint's consumers.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a queue of this host may have no consumer before the host stops itself. Longer than
    /// MassTransit takes to reconnect after a broker restart (its retries wait up to 30 s).
    /// </summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long one send may wait for the broker's confirm before the host stops itself (<see cref="StuckSendWatchdog"/>).
    /// A confirm takes milliseconds, seconds on a broker writing slowly to disk.
    /// </summary>
    public TimeSpan SendStuckAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the broker may refuse (basic.nack) every send to one destination before the host stops itself
    /// (<see cref="StuckSendWatchdog"/>). Longer than a quorum queue takes to elect a new leader (seconds).
    /// </summary>
    public TimeSpan SendRejectedFor { get; set; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// Asks the broker, from its own connection, whether every receive endpoint of this host still has a
/// consumer. MassTransit can leave an endpoint without one and report nothing (under chaos a host
/// kept running and consumed no more); such a host stops itself with exit code 75, so whatever
/// supervises it (systemd, Kubernetes, the CLI's <c>LocalSystem</c>) starts a fresh one, whose
/// endpoints take over the queued messages. While the broker cannot be asked, nothing is decided.
/// With several instances on one queue, another instance's consumer hides this one's loss.
/// </summary>
public sealed class ConsumerWatchdog(
    IOptions<RabbitMqOptions> rabbit,
    IOptions<ConsumerWatchdogOptions> options,
    TimeProvider clock,
    ILogger<ConsumerWatchdog> logger,
    IHostApplicationLifetime? lifetime = null) : BackgroundService, IReceiveEndpointObserver
{
    public const int ExitCode = 75; // EX_TEMPFAIL: start me again

    // Queue → when it was first seen without a consumer (null: it had one at the last look).
    private readonly ConcurrentDictionary<string, DateTimeOffset?> _queues = new();

    /// <summary>Records what the broker said about <paramref name="queue"/>; true once it has had no consumer for too long.</summary>
    private bool Observe(string queue, bool hasConsumer, DateTimeOffset now)
    {
        if (!_queues.TryGetValue(queue, out var seenWithout))
        {
            return false; // not an endpoint of this host
        }
        DateTimeOffset? since = hasConsumer ? null : seenWithout ?? now;
        _queues[queue] = since;
        return since is { } s && now - s >= options.Value.GiveUpAfter;
    }

    public IReadOnlyCollection<string> Queues => _queues.Keys.ToList();

    /// <summary>Rounds in which the broker answered for every queue.</summary>
    public int Checks { get; private set; }

    public void Watch(string queue) => _queues.TryAdd(queue, null);

    public static string QueueName(Uri inputAddress) => inputAddress.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Last();

    public Task Ready(ReceiveEndpointReady ready)
    {
        Watch(QueueName(ready.InputAddress));
        return Task.CompletedTask;
    }

    // An endpoint stops only with its host (well inside GiveUpAfter), so a watched queue stays watched:
    // MassTransit's own reconnects must not hide the endpoint that failed to come back.
    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        IConnection? connection = null;
        try
        {
            using var timer = new PeriodicTimer(options.Value.Interval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (connection is not { IsOpen: true })
                    {
                        connection?.Dispose();
                        connection = await rabbit.Value.Connect("consumer-watchdog", stoppingToken, automaticRecovery: false); // replaced on the next tick when closed
                    }
                    foreach (var queue in Queues)
                    {
                        var consumers = await Consumers(connection, queue, stoppingToken);
                        if (Observe(queue, consumers > 0, clock.GetUtcNow()))
                        {
                            logger.LogCritical(
                                "Queue {Queue} has had no consumer for {Seconds:0} s while this host runs: stopping with exit code {ExitCode} to be started afresh",
                                queue, options.Value.GiveUpAfter.TotalSeconds, ExitCode);
                            Environment.ExitCode = ExitCode;
                            lifetime?.StopApplication();
                            return;
                        }
                    }
                    Checks++;
                }
                catch (Exception e) when (e is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
                {
                    logger.LogDebug(e, "The watchdog cannot reach the broker; it decides nothing until it can");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>The queue's consumers as the broker counts them; 0 when the queue no longer exists.</summary>
    public static async Task<uint> Consumers(IConnection connection, string queue, CancellationToken cancellationToken)
    {
        // A passive declare of a missing queue closes its channel: one channel per question.
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).ConsumerCount;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }
}
