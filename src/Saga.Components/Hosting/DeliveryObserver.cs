using MassTransit;

namespace Saga.Components.Hosting;

/// <summary>
/// Records how long each message took to reach this host (<see cref="PathMetrics.Delivered"/>), on its
/// first delivery only: a retry or redelivery counts its own delay, not the transport's. SentTime is the
/// sender's clock, so across machines the figure holds their clocks' difference too.
/// </summary>
public sealed class DeliveryObserver : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class
    {
        if (context.SentTime is { } sent && context.GetRetryAttempt() == 0 && !context.ReceiveContext.Redelivered)
        {
            PathMetrics.Delivered(typeof(T).Name, DateTime.UtcNow - sent);
        }
        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
