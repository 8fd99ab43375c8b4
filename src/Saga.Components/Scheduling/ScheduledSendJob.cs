using System.Net.Mime;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Saga.Components.Scheduling;

/// <summary>
/// Sends one scheduled message when its trigger fires: the stored envelope goes to its destination
/// through the bus, headers and ids intact, plus <c>MT-Scheduling-TokenId</c>. A send that fails or
/// outlasts <see cref="DurableSchedulerOptions.SendTimeout"/> is reported (a warning and
/// <see cref="SchedulerMetrics"/>) and thrown to Quartz, whose retry policy (<see cref="DurableSchedulerRegistration"/>)
/// keeps the trigger stored and fires it again after a growing wait.
/// </summary>
public sealed class ScheduledSendJob(IBus bus, DurableSchedulerOptions options, SchedulerMetrics metrics, ILogger<ScheduledSendJob> logger) : IJob
{
    internal const string DestinationKey = "destination";
    internal const string ContentTypeKey = "contentType";
    internal const string BodyKey = "body";
    internal const string TokenIdKey = "tokenId";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var data = context.MergedJobDataMap;
        var destination = data.GetString(DestinationKey);
        var tokenId = data.GetString(TokenIdKey);
        try
        {
            await Send(data, cancellationToken).ConfigureAwait(false);
            logger.LogDebug("Sent scheduled message {TokenId} to {Destination}", tokenId, destination);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted by a shutdown: Quartz hands the firing back, to be sent again by whichever node fires it next.
            throw new OperationCanceledException($"Sending scheduled message {tokenId} was interrupted by a shutdown.", e, cancellationToken);
        }
        catch (Exception e)
        {
            metrics.SendFailed();
            // The trigger's start is the time the message was scheduled for; a retry or a misfire moves only its next fire time.
            logger.LogWarning(e, "Sending scheduled message {TokenId} due {ScheduledTime:O} to {Destination} failed (attempt {Attempt}); it stays stored and is sent again later",
                tokenId, context.Trigger.StartTimeUtc, destination, context.RetryAttempt + 1);
            throw new JobExecutionException($"Sending scheduled message {tokenId} to {destination} failed.", e);
        }
    }

    private async Task Send(JobDataMap data, CancellationToken cancellationToken)
    {
        var destination = new Uri(Read(data, DestinationKey));
        var tokenId = Guid.Parse(Read(data, TokenIdKey));
        var contentType = new ContentType(Read(data, ContentTypeKey));
        // Kept and retried like any failure: a node of a later version may read what this one cannot.
        if (contentType.MediaType != ScheduledEnvelope.ContentType.MediaType)
        {
            throw new NotSupportedException($"Scheduled message {tokenId} is stored as {contentType}, which this scheduler does not send.");
        }
        var envelope = ScheduledEnvelope.Read(Read(data, BodyKey));
        // MassTransit retries a send the broker refuses for as long as it is let: bound each attempt.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(options.SendTimeout);
        var endpoint = await bus.GetSendEndpoint(destination).ConfigureAwait(false);
        await endpoint.Send(new SerializedMessageBody(), Pipe.Execute<SendContext>(send => ScheduledEnvelope.Apply(send, envelope, tokenId)), attempt.Token)
            .ConfigureAwait(false);
    }

    private static string Read(JobDataMap data, string key) =>
        data.GetString(key) ?? throw new InvalidOperationException($"A scheduled message job has no '{key}' in its data.");
}
