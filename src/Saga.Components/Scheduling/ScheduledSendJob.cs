using System.Net.Mime;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Saga.Components.Scheduling;

/// <summary>
/// Sends one scheduled message when its trigger fires: the stored envelope goes to its destination
/// through the bus, headers and ids intact, plus <c>MT-Scheduling-TokenId</c>. A send that fails or
/// outlasts <see cref="DurableSchedulerOptions.SendTimeout"/> is refired at once, up to
/// <see cref="DurableSchedulerOptions.MaxRefires"/> times, then given up (logged as an error).
/// </summary>
public sealed class ScheduledSendJob(IBus bus, DurableSchedulerOptions options, ILogger<ScheduledSendJob> logger) : IJob
{
    internal const string DestinationKey = "destination";
    internal const string ContentTypeKey = "contentType";
    internal const string BodyKey = "body";
    internal const string TokenIdKey = "tokenId";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var data = context.MergedJobDataMap;
        var destination = new Uri(Read(data, DestinationKey));
        var tokenId = Guid.Parse(Read(data, TokenIdKey));
        var contentType = new ContentType(Read(data, ContentTypeKey));
        if (contentType.MediaType != ScheduledEnvelope.ContentType.MediaType)
        {
            throw new JobExecutionException($"Scheduled message {tokenId} is stored as {contentType}, which this scheduler does not send.");
        }
        var envelope = ScheduledEnvelope.Read(Read(data, BodyKey));
        // MassTransit retries a send the broker refuses for as long as it is let: bound each attempt.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(options.SendTimeout);
        try
        {
            var endpoint = await bus.GetSendEndpoint(destination).ConfigureAwait(false);
            await endpoint.Send(new SerializedMessageBody(), Pipe.Execute<SendContext>(send => ScheduledEnvelope.Apply(send, envelope, tokenId)), attempt.Token)
                .ConfigureAwait(false);
            logger.LogDebug("Sent scheduled message {TokenId} to {Destination}", tokenId, destination);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted by a shutdown: Quartz hands the firing back, to be sent again by whichever node fires it next.
            throw new OperationCanceledException($"Sending scheduled message {tokenId} was interrupted by a shutdown.", e, cancellationToken);
        }
        catch (Exception e)
        {
            var refire = context.RefireCount < options.MaxRefires;
            logger.LogError(e, "Sending scheduled message {TokenId} to {Destination} failed (refire {Refire} of {MaxRefires}); {Next}",
                tokenId, destination, context.RefireCount, options.MaxRefires, refire ? "refiring" : "giving it up");
            throw new JobExecutionException($"Sending scheduled message {tokenId} to {destination} failed.", e) { RefireImmediately = refire };
        }
    }

    private static string Read(JobDataMap data, string key) =>
        data.GetString(key) ?? throw new JobExecutionException($"A scheduled message job has no '{key}' in its data.");
}
