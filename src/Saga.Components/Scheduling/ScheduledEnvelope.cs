using System.Net.Mime;
using System.Text.Json;
using MassTransit;
using MassTransit.Scheduling;
using MassTransit.Serialization;

namespace Saga.Components.Scheduling;

/// <summary>
/// The message a ScheduleMessage carries, kept as the envelope it will be sent in. A scheduler
/// client puts the payload's ids, addresses and headers (a redelivery's count among them) on the
/// ScheduleMessage's own envelope, so that envelope with the payload in place of the command is
/// the message as it would have been sent directly.
/// </summary>
internal static class ScheduledEnvelope
{
    public static readonly ContentType ContentType = SystemTextJsonMessageSerializer.JsonContentType;

    public static string Write(ConsumeContext<ScheduleMessage> context)
    {
        if (context.ReceiveContext.ContentType?.MediaType != ContentType.MediaType || context.Message.Payload is not JsonElement payload)
        {
            throw new NotSupportedException(
                $"Only ScheduleMessage in MassTransit's JSON envelope ({ContentType.MediaType}) can be scheduled; got {context.ReceiveContext.ContentType}.");
        }
        var envelope = new JsonMessageEnvelope(context, payload, context.Message.PayloadType)
        {
            DestinationAddress = context.Message.Destination.ToString(),
            Host = context.Host,
        };
        return JsonSerializer.Serialize(envelope, SystemTextJsonMessageSerializer.Options);
    }

    public static JsonMessageEnvelope Read(string body) =>
        JsonSerializer.Deserialize<JsonMessageEnvelope>(body, SystemTextJsonMessageSerializer.Options)
        ?? throw new JsonException("A scheduled message body held no envelope.");

    /// <summary>Makes <paramref name="context"/> send <paramref name="envelope"/> as it is, marked with its schedule's token.</summary>
    public static void Apply(SendContext context, JsonMessageEnvelope envelope, Guid tokenId)
    {
        // The envelope is written from the send context, so whatever is left unset here would be new.
        if (ToGuid(envelope.MessageId) is { } messageId)
        {
            context.MessageId = messageId;
        }
        context.RequestId = ToGuid(envelope.RequestId);
        context.CorrelationId = ToGuid(envelope.CorrelationId);
        context.ConversationId = ToGuid(envelope.ConversationId);
        context.InitiatorId = ToGuid(envelope.InitiatorId);
        if (ToUri(envelope.SourceAddress) is { } source)
        {
            context.SourceAddress = source;
        }
        context.ResponseAddress = ToUri(envelope.ResponseAddress);
        context.FaultAddress = ToUri(envelope.FaultAddress);
        if (envelope.ExpirationTime is { } expires)
        {
            context.TimeToLive = expires.ToUniversalTime() - DateTime.UtcNow;
        }
        foreach (var (key, value) in envelope.Headers)
        {
            if (Plain(value) is { } plain)
            {
                context.Headers.Set(key, plain);
            }
        }
        context.Headers.Set(MessageHeaders.SchedulingTokenId, tokenId.ToString("D"));
        context.Serializer = new SystemTextJsonBodyMessageSerializer(envelope, ContentType, SystemTextJsonMessageSerializer.Options, envelope.MessageType);
    }

    // Scalars as the CLR values a direct send would carry, so the transport writes them as its own headers too.
    private static object? Plain(object? value) => value is JsonElement e
        ? e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.Number => e.TryGetInt64(out var whole) ? whole : e.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => e,
        }
        : value;

    private static Guid? ToGuid(string? text) => Guid.TryParse(text, out var id) ? id : null;

    private static Uri? ToUri(string? text) => string.IsNullOrWhiteSpace(text) ? null : new Uri(text);
}
