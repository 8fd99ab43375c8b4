using MassTransit;
using MassTransit.Scheduling;
using Microsoft.Extensions.Logging;

namespace Saga.Components.Scheduling;

/// <summary>Unschedules the message stored under a token id; one already sent, or never stored, is not there to cancel.</summary>
public sealed class CancelScheduledMessageConsumer(DurableScheduler scheduler, ILogger<CancelScheduledMessageConsumer> logger)
    : IConsumer<CancelScheduledMessage>
{
    public async Task Consume(ConsumeContext<CancelScheduledMessage> context)
    {
        var quartz = await scheduler.GetScheduler(context.CancellationToken).ConfigureAwait(false);
        var removed = await quartz.UnscheduleJob(DurableScheduler.TriggerKeyOf(context.Message.TokenId), context.CancellationToken).ConfigureAwait(false);
        if (removed)
        {
            logger.LogDebug("Cancelled scheduled message {TokenId}", context.Message.TokenId);
        }
        else
        {
            logger.LogDebug("No scheduled message {TokenId} to cancel", context.Message.TokenId);
        }
    }
}
