using Quartz;

namespace Saga.Components.Scheduling;

/// <summary>
/// The Quartz scheduler behind the scheduling consumers. It is handed out only once its tables
/// exist: a ScheduleMessage can be consumed before the bus has finished starting, and Quartz checks
/// its tables the first time the scheduler is built.
/// </summary>
public sealed class DurableScheduler(ISchedulerFactory factory, DurableSchedulerOptions options) : IDisposable
{
    /// <summary>Quartz group of the jobs and triggers of scheduled messages.</summary>
    public const string Group = "scheduled-messages";

    private readonly SemaphoreSlim _provisioning = new(1, 1);
    private volatile bool _provisioned;

    /// <summary>Job and trigger of one scheduled message are both named after its token id.</summary>
    public static JobKey JobKeyOf(Guid tokenId) => new(tokenId.ToString("N"), Group);

    public static TriggerKey TriggerKeyOf(Guid tokenId) => new(tokenId.ToString("N"), Group);

    public async Task<IScheduler> GetScheduler(CancellationToken cancellationToken = default)
    {
        if (!_provisioned)
        {
            await _provisioning.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!_provisioned)
                {
                    await SchedulerSchema.Ensure(options.ConnectionString, options.Schema, cancellationToken).ConfigureAwait(false);
                    _provisioned = true;
                }
            }
            finally
            {
                _provisioning.Release();
            }
        }
        return await factory.GetScheduler(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _provisioning.Dispose();
}
