using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Saga.Components.Tests.Scheduling;

public sealed class CancelScheduledMessage_Specs : IAsyncLifetime
{
    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_cancelled_message_leaves_the_store_and_is_not_sent_when_it_was_due()
    {
        var node = await _bed.StartNode();
        var scheduler = node.Services.GetRequiredService<IMessageScheduler>();
        var cancelled = new SchedulingPinged(NewId.NextGuid());
        // Soon enough that the node has already taken the trigger to fire (Quartz takes those due within its 30 s idle wait),
        // late enough that even a loaded machine cancels it first.
        var cancelledDue = DateTime.UtcNow.AddSeconds(15);
        var schedule = await scheduler.ScheduleSend(_bed.ProbeAddress, cancelledDue, cancelled);
        // Schedule and cancel are consumed concurrently: cancel only what is there to cancel.
        await _bed.Until(async () => await _bed.TriggerState(schedule.TokenId) == "ACQUIRED", "the node took the schedule to fire when due");

        await scheduler.CancelScheduledSend(_bed.ProbeAddress, schedule.TokenId);
        await _bed.Until(async () => !await _bed.Stored(schedule.TokenId), "the cancelled schedule left the store");
        Assert.True(DateTime.UtcNow < cancelledDue, "the machine was too slow to cancel before the due time: give it a longer lead");

        // A message due after the cancelled one: by the time it arrives, the cancelled one would have.
        var later = new SchedulingPinged(NewId.NextGuid());
        await scheduler.ScheduleSend(_bed.ProbeAddress, cancelledDue.AddSeconds(0.5), later);
        await _bed.Single(later.Id);

        Assert.Empty(_bed.ArrivalsOf(cancelled.Id));
        await _bed.Until(async () => await _bed.TriggerCount() == 0, "the store emptied");
        Assert.Empty(_bed.ArrivalsOf(cancelled.Id));
    }
}
