using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Saga.Components.Scheduling;

namespace Saga.Components.Tests.Scheduling;

/// <summary>Sends that do not go through: a destination the broker refuses, and a node stopped mid-send.</summary>
public sealed class ScheduledSendJob_Specs : IAsyncLifetime
{
    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_send_that_keeps_failing_is_refired_a_bounded_number_of_times_then_given_up()
    {
        // A queue whose arguments differ from those MassTransit declares: every send to it is refused.
        var refusing = _bed.Queue("refusing");
        await SchedulingTestbed.Rabbit(channel => channel.QueueDeclareAsync(refusing, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 10 }));
        var node = await _bed.StartNode(scheduler: o =>
        {
            o.MaxRefires = 2;
            o.SendTimeout = TimeSpan.FromMilliseconds(500);
        });
        var message = new SchedulingPinged(NewId.NextGuid());

        var scheduled = await node.Services.GetRequiredService<IMessageScheduler>()
            .ScheduleSend(new Uri($"queue:{refusing}"), DateTime.UtcNow.AddMilliseconds(500), message);
        await _bed.Until(() => _bed.Stored(scheduled.TokenId), "the schedule was stored");
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the schedule was given up");

        var failures = _bed.Log.Entries.Where(e => e.Category == typeof(ScheduledSendJob).FullName && e.Level == LogLevel.Error).ToList();
        Assert.Equal(3, failures.Count); // the firing and its two refires
        Assert.Contains("giving it up", failures[^1].Message, StringComparison.Ordinal);
        Assert.Empty(_bed.ArrivalsOf(message.Id));
    }

    [Fact]
    public async Task A_send_cut_short_by_a_shutdown_is_handed_back_and_sent_by_the_next_node()
    {
        var stuck = _bed.Queue("stuck");
        await SchedulingTestbed.Rabbit(channel => channel.QueueDeclareAsync(stuck, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 10 }));
        var first = await _bed.StartNode(scheduler: o => o.SendTimeout = TimeSpan.FromSeconds(10));
        var scheduled = await first.Services.GetRequiredService<IMessageScheduler>()
            .ScheduleSend(new Uri($"queue:{stuck}"), DateTime.UtcNow.AddMilliseconds(300), new SchedulingPinged(NewId.NextGuid()));
        // Running, not just fired: Quartz interrupts the jobs it is running when it shuts down, not one it is still handing to a thread.
        await _bed.Until(() => Task.FromResult(_bed.Log.Entries.Any(e => e.Category == "MassTransit" && e.Message.Contains(stuck, StringComparison.Ordinal))),
            "the send was refused");

        var stopping = DateTime.UtcNow;
        await _bed.StopNode(first); // its send is still being refused, and would be for its whole SendTimeout
        Assert.True(DateTime.UtcNow - stopping < TimeSpan.FromSeconds(5), "the node waited for the refused send");
        Assert.True(await _bed.Stored(scheduled.TokenId));

        await SchedulingTestbed.Rabbit(async channel =>
        {
            await channel.QueueDeleteAsync(stuck, ifUnused: false, ifEmpty: false);
            await channel.QueueDeclareAsync(stuck, durable: true, exclusive: false, autoDelete: false); // as MassTransit declares it
        });
        await _bed.StartNode();
        await _bed.Until(async () =>
        {
            var count = 0u;
            await SchedulingTestbed.Rabbit(async channel => count = await channel.MessageCountAsync(stuck));
            return count == 1;
        }, "the message reached its queue");
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the schedule left the store");
    }
}
