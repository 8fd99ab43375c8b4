using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Saga.Components.Hosting;

/// <summary>
/// How many messages wait in one queue, asked of the broker several times a second over a connection
/// of its own (a passive declare: no statistics delay, nothing declared). <see cref="IsOver"/> tells
/// whether the backlog passed <c>limit</c>; while the broker cannot be asked, the last answer stands.
/// Admission control for the transfer path: the Api refuses new transfers, the coordinator takes no new
/// half messages, and its check-back scan sends nothing, while the work already accepted waits.
/// </summary>
public sealed class QueueBacklog(string queue, int limit, IOptions<RabbitMqOptions> rabbit, ILogger<QueueBacklog> logger, TimeProvider clock)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private volatile int _messages;

    public string Queue => queue;

    public int Limit => limit;

    public int Messages => _messages;

    public bool IsOver => _messages > limit;

    /// <summary>Returns once the backlog is at or under the limit, asking no more often than the poll does.</summary>
    public async Task UntilUnder(CancellationToken cancellationToken)
    {
        while (IsOver)
        {
            await Task.Delay(Interval, clock, cancellationToken);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IConnection? connection = null;
        IChannel? channel = null;
        try
        {
            using var timer = new PeriodicTimer(Interval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (channel is not { IsOpen: true })
                    {
                        if (connection is not { IsOpen: true })
                        {
                            connection?.Dispose();
                            connection = await rabbit.Value.Connect($"backlog-{queue}", stoppingToken, automaticRecovery: false); // replaced on the next tick when closed
                        }
                        channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
                    }
                    var messages = (int)(await channel.QueueDeclarePassiveAsync(queue, stoppingToken)).MessageCount;
                    if ((messages > limit) != IsOver)
                    {
                        logger.LogInformation(messages > limit ? "{Queue} holds {Messages} messages, over {Limit}: new transfers and the check-back scan wait" : "{Queue} holds {Messages} messages, at most {Limit} again",
                            queue, messages, limit);
                    }
                    _messages = messages;
                }
                catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
                {
                    _messages = 0; // not declared yet: nothing waits in it
                }
                catch (Exception e) when (e is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
                {
                    logger.LogDebug(e, "Cannot ask the broker about {Queue}; the last answer stands", queue);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            channel?.Dispose();
            connection?.Dispose();
        }
    }
}
