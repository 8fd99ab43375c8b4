using MassTransit;
using MassTransit.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;
using Saga.Components.Security;

namespace Saga.Components.Scheduling;

/// <summary>
/// Stores a ScheduleMessage as a Quartz job and trigger keyed by its token id, due at its scheduled
/// time: scheduling a token again replaces what was stored for it, so a ScheduleMessage delivered
/// twice is stored once. A store that fails is reported (a warning and <see cref="SchedulerMetrics"/>)
/// and thrown, for the endpoint's retry and then its error queue: the message is acknowledged only
/// once stored or moved there.
/// </summary>
public sealed class ScheduleMessageConsumer(DurableScheduler scheduler, DurableSchedulerOptions options, IOptions<SenderOptions> senders,
    SchedulerMetrics metrics, ILogger<ScheduleMessageConsumer> logger) : IConsumer<ScheduleMessage>
{
    public async Task Consume(ConsumeContext<ScheduleMessage> context)
    {
        var message = context.Message;
        try
        {
            await Store(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.CancellationToken.IsCancellationRequested)
        {
            metrics.StoreFailed();
            var attempt = context.GetRetryAttempt();
            var retried = attempt < options.StoreRetryIntervals.Count && e is not NotSupportedException;
            logger.LogWarning(e, "Storing scheduled message {TokenId} due {ScheduledTime:O} to {Destination} failed (attempt {Attempt}); {Next}",
                message.CorrelationId, message.ScheduledTime, message.Destination, attempt + 1, retried ? "retrying" : "moving it to the error queue");
            throw;
        }
        logger.LogDebug("Scheduled message {TokenId} for {ScheduledTime:O} to {Destination}", message.CorrelationId, message.ScheduledTime, message.Destination);
    }

    private async Task Store(ConsumeContext<ScheduleMessage> context)
    {
        var message = context.Message;
        if (options.Refusal(message.Destination, SentBy.Of(context.ReceiveContext), senders.Value) is { } refusal)
        {
            throw new ScheduleRefusedException(refusal);
        }
        var job = JobBuilder.Create<ScheduledSendJob>()
            .WithIdentity(DurableScheduler.JobKeyOf(message.CorrelationId))
            .RequestRecovery() // a node that dies mid-send leaves the send to another
            .UsingJobData(ScheduledSendJob.DestinationKey, message.Destination.ToString())
            .UsingJobData(ScheduledSendJob.ContentTypeKey, ScheduledEnvelope.ContentType.ToString())
            .UsingJobData(ScheduledSendJob.BodyKey, ScheduledEnvelope.Write(context))
            .UsingJobData(ScheduledSendJob.TokenIdKey, message.CorrelationId.ToString("D"))
            .Build();
        var trigger = TriggerBuilder.Create()
            .WithIdentity(DurableScheduler.TriggerKeyOf(message.CorrelationId))
            .ForJob(job)
            .StartAt(AsUtc(message.ScheduledTime))
            // Missed by more than the misfire threshold (every node down, or behind): sent late, never skipped.
            .WithSchedule(SimpleScheduleBuilder.Create().WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();

        var quartz = await scheduler.GetScheduler(context.CancellationToken).ConfigureAwait(false);
        await quartz.ScheduleJob(job, trigger, ScheduleJobOptions.Replacing, context.CancellationToken).ConfigureAwait(false);
    }

    // MassTransit writes UTC; a time that lost its kind on the way is read as UTC too.
    private static DateTimeOffset AsUtc(DateTime time) =>
        new(time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc));
}

/// <summary>A ScheduleMessage this scheduler will not keep: it goes to the error queue, never retried.</summary>
public sealed class ScheduleRefusedException(string reason) : NotSupportedException(reason);
