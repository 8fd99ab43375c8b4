using MassTransit;

namespace Saga.Components.Hosting;

/// <summary>
/// Starts the bus's own endpoint, where responses arrive, with the bus. MassTransit starts that
/// endpoint on the first request instead, and holds a thread for every request that waits for it:
/// with 64 requests arriving at once the thread pool starved for 15 s (the bench's first seconds).
/// </summary>
internal sealed class ResponseEndpointObserver : IBusObserver
{
    public void PostCreate(IBus bus) => bus.ConnectRequestPipe(Guid.NewGuid(), Pipe.Empty<ConsumeContext<BusEndpointStarted>>());

    public void CreateFaulted(Exception exception)
    {
    }

    public Task PreStart(IBus bus) => Task.CompletedTask;

    public Task PostStart(IBus bus, Task<BusReady> busReady) => Task.CompletedTask;

    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public Task PreStop(IBus bus) => Task.CompletedTask;

    public Task PostStop(IBus bus) => Task.CompletedTask;

    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    /// <summary>Never sent: the request pipe above only needs a type.</summary>
    internal sealed record BusEndpointStarted;
}
