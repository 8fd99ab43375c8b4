using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Transports;
using RabbitMQ.Client;
using Saga.Components.Security;

namespace Saga.Components.Hosting;

/// <summary>
/// The error and skipped queues, as MassTransit fills them, for messages signed by another service
/// (<see cref="SentBy"/>). MassTransit moves a message with its properties, <c>user_id</c> too, and the
/// broker refuses one naming a user other than the connection's: the move would fail and the message come
/// back for ever. So the moved copy goes unsigned, its sender kept in the <see cref="SentByHeader"/> header.
/// </summary>
public static class MoveUnsigned
{
    /// <summary>Who had signed a message before it was moved to an error or skipped queue.</summary>
    public const string SentByHeader = "Saga-Sent-By";

    public static void Configure(IReceiveEndpointConfigurator endpoint)
    {
        endpoint.ConfigureError(x =>
        {
            x.UseFilter(new GenerateFaultFilter());
            x.UseFilter(new ToErrorQueue());
        });
        endpoint.ConfigureDeadLetter(x => x.UseFilter(new ToSkippedQueue()));
    }

    private sealed class ToErrorQueue : IFilter<ExceptionReceiveContext>
    {
        public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
        {
            if (!context.TryGetPayload(out IErrorTransport? transport))
            {
                throw new TransportException(context.InputAddress, "No error transport on the receive context.");
            }
            await transport.Send(new UnsignedFailure(context)).ConfigureAwait(false);
            await next.Send(context).ConfigureAwait(false);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("moveUnsignedToError");
    }

    private sealed class ToSkippedQueue : IFilter<ReceiveContext>
    {
        public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
        {
            if (!context.TryGetPayload(out IDeadLetterTransport? transport))
            {
                throw new TransportException(context.InputAddress, "No dead-letter transport on the receive context.");
            }
            await transport.Send(new Unsigned(context), "skipped").ConfigureAwait(false);
            await next.Send(context).ConfigureAwait(false);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("moveUnsignedToSkipped");
    }

    /// <summary>The received message as the move transports read it, its delivery's properties without <c>user_id</c>.</summary>
    private class Unsigned(ReceiveContext context) : ReceiveContextProxy(context)
    {
        private readonly ReceiveContext _context = context;

        public override bool TryGetPayload<T>(out T payload)
        {
            if (typeof(T) == typeof(RabbitMqBasicConsumeContext) && _context.TryGetPayload(out RabbitMqBasicConsumeContext? delivery)
                && delivery.Properties.UserId is not null)
            {
                payload = (T)(object)new UnsignedDelivery(delivery);
                return true;
            }
            return base.TryGetPayload(out payload);
        }
    }

    private sealed class UnsignedFailure(ExceptionReceiveContext context) : Unsigned(context), ExceptionReceiveContext
    {
        public Exception Exception => context.Exception;
        public DateTime ExceptionTimestamp => context.ExceptionTimestamp;
        public ExceptionInfo ExceptionInfo => context.ExceptionInfo;
        public SendHeaders ExceptionHeaders => context.ExceptionHeaders;
    }

    private sealed class UnsignedDelivery(RabbitMqBasicConsumeContext delivery) : RabbitMqBasicConsumeContext
    {
        public string Exchange => delivery.Exchange;
        public string ConsumerTag => delivery.ConsumerTag;
        public ulong DeliveryTag => delivery.DeliveryTag;
        public string? RoutingKey => delivery.RoutingKey;

        public IReadOnlyBasicProperties Properties { get; } = WithoutUserId(delivery.Properties);

        private static BasicProperties WithoutUserId(IReadOnlyBasicProperties properties)
        {
            var copy = new BasicProperties(properties)
            {
                UserId = null,
                Headers = new Dictionary<string, object?>(properties.Headers ?? new Dictionary<string, object?>(), StringComparer.OrdinalIgnoreCase),
            };
            copy.Headers[SentByHeader] = properties.UserId;
            return copy;
        }
    }
}
