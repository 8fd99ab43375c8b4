using System.Globalization;
using System.Text;
using MassTransit;
using MassTransit.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Saga.Components.Scheduling;

namespace Saga.Components.Tests.Scheduling;

/// <summary>ScheduleMessages the store does not take at once, and one that arrives twice.</summary>
public sealed class ScheduleMessageStore_Specs : IAsyncLifetime
{
    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_schedule_the_store_refuses_for_a_while_is_stored_once_it_takes_it_and_sent_when_due()
    {
        var node = await _bed.StartNode(scheduler: o => o.StoreRetryIntervals = [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(200), 60)]);
        await _bed.BreakStore();
        var message = new SchedulingPinged(NewId.NextGuid());
        var due = DateTime.UtcNow.AddMilliseconds(500);

        var scheduled = await node.Services.GetRequiredService<IMessageScheduler>().ScheduleSend(_bed.ProbeAddress, due, message);
        await _bed.Until(() => Task.FromResult(_bed.WarningsOf<ScheduleMessageConsumer>(scheduled.TokenId).Count >= 3), "the store was tried again");

        Assert.True(_bed.Failures(node, "store") >= 3);
        var warning = _bed.WarningsOf<ScheduleMessageConsumer>(scheduled.TokenId)[0];
        Assert.Contains(_bed.ProbeQueue, warning, StringComparison.Ordinal);
        Assert.Contains(due.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture), warning, StringComparison.Ordinal);
        Assert.Contains("retrying", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(message.Id.ToString(), warning, StringComparison.OrdinalIgnoreCase);

        await _bed.RepairStore();
        var arrival = await _bed.Single(message.Id);
        Assert.Equal(scheduled.TokenId, arrival.TokenId);
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the sent schedule left the store");
        Assert.Equal(0u, await _bed.MessagesIn(_bed.SchedulerQueue + "_error"));
    }

    [Fact]
    public async Task A_schedule_the_store_keeps_refusing_waits_in_the_error_queue()
    {
        var node = await _bed.StartNode(scheduler: o => o.StoreRetryIntervals = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100)]);
        await _bed.BreakStore();
        var errors = _bed.SchedulerQueue + "_error";

        var scheduled = await node.Services.GetRequiredService<IMessageScheduler>()
            .ScheduleSend(_bed.ProbeAddress, DateTime.UtcNow.AddSeconds(1), new SchedulingPinged(NewId.NextGuid()));
        await _bed.Until(async () => await _bed.MessagesIn(errors) == 1, "the schedule reached the error queue");

        var warnings = _bed.WarningsOf<ScheduleMessageConsumer>(scheduled.TokenId);
        Assert.Equal(3, warnings.Count); // the first attempt and its two retries
        Assert.Contains("moving it to the error queue", warnings[^1], StringComparison.Ordinal);
        Assert.Equal(3, _bed.Failures(node, "store"));
        // What waits there is the ScheduleMessage itself, to be moved back once the store takes writes again.
        await SchedulingTestbed.Rabbit(async channel =>
        {
            var kept = await channel.BasicGetAsync(errors, autoAck: false);
            Assert.NotNull(kept);
            Assert.Contains(scheduled.TokenId.ToString("D"), Encoding.UTF8.GetString(kept.Body.Span), StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task A_schedule_delivered_twice_is_stored_once_and_sent_once()
    {
        var node = await _bed.StartNode();
        var consumed = new ScheduleMessageCount();
        node.Services.GetRequiredService<IBus>().ConnectConsumeObserver(consumed);
        var scheduler = await node.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{_bed.SchedulerQueue}"));
        var message = new SchedulingPinged(NewId.NextGuid());
        // Due only once made so with no node running: a schedule that fired before it was counted would leave none to count.
        var due = DateTime.UtcNow.AddHours(1);
        var token = NewId.NextGuid();
        var command = new ScheduleMessageCommand<SchedulingPinged>(due, _bed.ProbeAddress, message, token);
        var messageId = NewId.NextGuid();

        // As the broker redelivers a ScheduleMessage whose store committed but whose acknowledgement was lost.
        await scheduler.Send<ScheduleMessage>(command, c => c.MessageId = messageId);
        await scheduler.Send<ScheduleMessage>(command, c => c.MessageId = messageId);
        await _bed.Until(() => Task.FromResult(consumed.Count == 2), "both copies were consumed");

        Assert.Equal(1, await _bed.TriggerCount());
        await _bed.StopNode(node);
        await _bed.Backdate(token, due - DateTime.UtcNow);
        await _bed.StartNode();
        await _bed.Single(message.Id);
        await _bed.Until(async () => await _bed.TriggerCount() == 0, "the sent schedule left the store");
        Assert.Single(_bed.ArrivalsOf(message.Id));
    }

    private sealed class ScheduleMessageCount : IConsumeObserver
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is ScheduleMessage)
            {
                Interlocked.Increment(ref _count);
            }
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}
