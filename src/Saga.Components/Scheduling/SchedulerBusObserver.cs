using MassTransit;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Saga.Components.Scheduling;

/// <summary>
/// Runs the Quartz scheduler with the bus its jobs send through: its tables are checked before the
/// bus starts, it starts firing once the bus is ready, and it stops before the bus stops. A send
/// still running then is cancelled and handed back to the store, so it may be sent twice but is not
/// lost; what has not fired stays in PostgreSQL for whichever node runs next.
/// </summary>
internal sealed class SchedulerBusObserver(DurableScheduler scheduler, ILogger<SchedulerBusObserver> logger) : IBusObserver, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _started = Task.CompletedTask;
    private IScheduler? _quartz;

    public void PostCreate(IBus bus)
    {
    }

    public void CreateFaulted(Exception exception)
    {
    }

    // A scheduler that cannot reach or create its tables fails the bus start, rather than every ScheduleMessage later.
    public async Task PreStart(IBus bus) => _quartz = await scheduler.GetScheduler(_stopping.Token).ConfigureAwait(false);

    public Task PostStart(IBus bus, Task<BusReady> busReady)
    {
        _started = StartWhenReady(busReady);
        return Task.CompletedTask;
    }

    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public async Task PreStop(IBus bus)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _started.ConfigureAwait(false);
        if (_quartz is { } quartz)
        {
            await quartz.Shutdown(waitForJobsToComplete: true).ConfigureAwait(false);
            logger.LogInformation("Durable scheduler {Instance} stopped", quartz.SchedulerInstanceId);
        }
    }

    public Task PostStop(IBus bus) => Task.CompletedTask;

    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    private async Task StartWhenReady(Task<BusReady> busReady)
    {
        try
        {
            await busReady.WaitAsync(_stopping.Token).ConfigureAwait(false);
            var quartz = _quartz ??= await scheduler.GetScheduler(_stopping.Token).ConfigureAwait(false);
            await quartz.Start(_stopping.Token).ConfigureAwait(false);
            logger.LogInformation("Durable scheduler {Instance} started", quartz.SchedulerInstanceId);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "The durable scheduler did not start: scheduled messages are stored but not sent by this node");
        }
    }
}
