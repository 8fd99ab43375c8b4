using System.Globalization;
using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Saga.Components.Scheduling;

namespace Saga.Components.Tests.Scheduling;

/// <summary>Sends that do not go through: a destination the broker refuses, a node stopped mid-send, every node down when due.</summary>
public sealed class ScheduledSendJob_Specs : IAsyncLifetime
{
    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_send_that_fails_is_fired_again_later_and_delivered_once_it_can_be_sent()
    {
        // A queue whose arguments differ from those MassTransit declares: every send to it is refused until it is declared as MassTransit would.
        var refusing = _bed.Queue("refusing");
        await SchedulingTestbed.Rabbit(channel => channel.QueueDeclareAsync(refusing, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 10 }));
        var node = await _bed.StartNode(scheduler: o =>
        {
            o.SendTimeout = TimeSpan.FromMilliseconds(300);
            o.SendRetryDelay = TimeSpan.FromMilliseconds(100);
            o.MaxSendRetryDelay = TimeSpan.FromMilliseconds(400);
        });
        var message = new SchedulingPinged(NewId.NextGuid());
        var due = DateTime.UtcNow.AddMilliseconds(300);

        var scheduled = await node.Services.GetRequiredService<IMessageScheduler>().ScheduleSend(new Uri($"queue:{refusing}"), due, message);
        // More failed sends than a bounded run of refires would make before giving the message up.
        await _bed.Until(() => Task.FromResult(_bed.WarningsOf<ScheduledSendJob>(scheduled.TokenId).Count >= 8), "the send was tried again and again");

        Assert.True(await _bed.Stored(scheduled.TokenId), "a message whose send failed left the store");
        Assert.True(_bed.Failures(node, "send") >= 8);
        var warning = _bed.WarningsOf<ScheduledSendJob>(scheduled.TokenId)[0];
        Assert.Contains(refusing, warning, StringComparison.Ordinal);
        Assert.Contains(due.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture), warning, StringComparison.Ordinal);
        Assert.DoesNotContain(message.Id.ToString(), warning, StringComparison.OrdinalIgnoreCase);

        await SchedulingTestbed.Rabbit(async channel =>
        {
            await channel.QueueDeleteAsync(refusing, ifUnused: false, ifEmpty: false);
            await channel.QueueDeclareAsync(refusing, durable: true, exclusive: false, autoDelete: false); // as MassTransit declares it
        });
        await _bed.Until(async () => await _bed.MessagesIn(refusing) >= 1, "the message reached its queue");
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the sent schedule left the store");
        // At least once: a send confirmed after its 300 ms timeout counts as failed and is sent again, as a loaded machine does.
        var sent = await _bed.MessagesIn(refusing);
        Assert.True(sent >= 1);
        await SchedulingTestbed.Rabbit(async channel =>
        {
            for (var i = 0; i < sent; i++)
            {
                var copy = await channel.BasicGetAsync(refusing, autoAck: false);
                Assert.NotNull(copy);
                Assert.Contains(message.Id.ToString("D"), Encoding.UTF8.GetString(copy.Body.Span), StringComparison.OrdinalIgnoreCase);
            }
        });
    }

    [Fact]
    public async Task A_send_waiting_to_be_tried_again_survives_its_node_and_an_outage()
    {
        var refusing = _bed.Queue("refusing");
        await SchedulingTestbed.Rabbit(channel => channel.QueueDeclareAsync(refusing, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 10 }));
        var first = await _bed.StartNode(scheduler: o =>
        {
            o.SendTimeout = TimeSpan.FromMilliseconds(300);
            o.SendRetryDelay = TimeSpan.FromHours(1); // the next attempt is far off: the node stops between two attempts
            o.MaxSendRetryDelay = TimeSpan.FromHours(1);
        });
        var scheduled = await first.Services.GetRequiredService<IMessageScheduler>()
            .ScheduleSend(new Uri($"queue:{refusing}"), DateTime.UtcNow.AddMilliseconds(300), new SchedulingPinged(NewId.NextGuid()));
        await _bed.Until(async () => await _bed.RetryAttempt(scheduled.TokenId) == 1, "the failed send's next attempt was stored");
        await _bed.StopNode(first);

        await SchedulingTestbed.Rabbit(async channel =>
        {
            await channel.QueueDeleteAsync(refusing, ifUnused: false, ifEmpty: false);
            await channel.QueueDeclareAsync(refusing, durable: true, exclusive: false, autoDelete: false); // as MassTransit declares it
        });
        // Every node down from before the next attempt was due until long after.
        await _bed.Backdate(scheduled.TokenId, TimeSpan.FromHours(2));
        await _bed.StartNode();

        await _bed.Until(async () => await _bed.MessagesIn(refusing) == 1, "the message reached its queue");
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the sent schedule left the store");
        Assert.Single(_bed.WarningsOf<ScheduledSendJob>(scheduled.TokenId));
    }

    [Fact]
    public async Task A_message_missed_while_every_node_was_down_is_sent_late_rather_than_dropped()
    {
        var first = await _bed.StartNode();
        var message = new SchedulingPinged(NewId.NextGuid());
        var due = DateTime.UtcNow.AddHours(1);
        var scheduled = await first.Services.GetRequiredService<IMessageScheduler>().ScheduleSend(_bed.ProbeAddress, due, message);
        await _bed.Until(() => _bed.Stored(scheduled.TokenId), "the schedule was stored");
        await _bed.StopNode(first);

        // The outage: no node ran from before the message was due until long after, far past Quartz's misfire threshold (a minute).
        await _bed.Backdate(scheduled.TokenId, due - DateTime.UtcNow + TimeSpan.FromMinutes(10));
        await _bed.StartNode();

        var arrival = await _bed.Single(message.Id);
        Assert.Equal(scheduled.TokenId, arrival.TokenId);
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the sent schedule left the store");
    }

    [Fact]
    public async Task A_send_cut_short_by_a_shutdown_is_handed_back_and_sent_by_the_next_node()
    {
        var stuck = _bed.Queue("stuck");
        await SchedulingTestbed.Rabbit(channel => channel.QueueDeclareAsync(stuck, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 10 }));
        // A node that waited for the refused send would take its whole SendTimeout to stop: minutes, where a stop takes seconds
        // even on a loaded machine. The host lets a stop run longer still, so that it does not cut such a wait short.
        var sendTimeout = TimeSpan.FromMinutes(5);
        var first = await _bed.StartNode(scheduler: o => o.SendTimeout = sendTimeout, hosting: o => o.ShutdownTimeout = 2 * sendTimeout);
        var scheduled = await first.Services.GetRequiredService<IMessageScheduler>()
            .ScheduleSend(new Uri($"queue:{stuck}"), DateTime.UtcNow.AddMilliseconds(300), new SchedulingPinged(NewId.NextGuid()));
        // Running, not just fired: Quartz interrupts the jobs it is running when it shuts down, not one it is still handing to a thread.
        await _bed.Until(() => Task.FromResult(_bed.Log.Entries.Any(e => e.Category == "MassTransit" && e.Message.Contains(stuck, StringComparison.Ordinal))),
            "the send was refused");

        var stopping = DateTime.UtcNow;
        await _bed.StopNode(first); // its send is still being refused, and would be for its whole SendTimeout
        Assert.True(DateTime.UtcNow - stopping < sendTimeout / 5, "the node waited for the refused send");
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
