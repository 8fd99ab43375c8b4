using MassTransit;
using MassTransit.Scheduling;
using Microsoft.Extensions.DependencyInjection;

namespace Saga.Components.Tests.Scheduling;

public sealed class ScheduleMessage_Specs : IAsyncLifetime
{
    // Quartz may fire a trigger a millisecond or two before its time.
    private static readonly TimeSpan ClockSlack = TimeSpan.FromMilliseconds(20);

    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_scheduled_message_arrives_when_due_as_if_it_had_been_sent_directly()
    {
        var node = await _bed.StartNode();
        var scheduler = node.Services.GetRequiredService<IMessageScheduler>();
        var message = new SchedulingPinged(NewId.NextGuid());
        Guid messageId = NewId.NextGuid(), correlationId = NewId.NextGuid(), conversationId = NewId.NextGuid(), initiatorId = NewId.NextGuid();
        var responses = new Uri("queue:scheduling-responses");
        var faults = new Uri("queue:scheduling-faults");
        var due = DateTime.UtcNow.AddSeconds(1.5);

        var scheduled = await scheduler.ScheduleSend(_bed.ProbeAddress, due, message, Pipe.Execute<SendContext<SchedulingPinged>>(c =>
        {
            c.MessageId = messageId;
            c.CorrelationId = correlationId;
            c.ConversationId = conversationId;
            c.InitiatorId = initiatorId;
            c.ResponseAddress = responses;
            c.FaultAddress = faults;
            c.Headers.Set("Test-Text", "kept");
            c.Headers.Set("Test-Number", 42);
            c.Headers.Set(MessageHeaders.RedeliveryCount, 2);
        }));
        var arrival = await _bed.Single(message.Id);

        Assert.True(arrival.ReceivedAt >= due - ClockSlack, $"arrived at {arrival.ReceivedAt:O}, due {due:O}");
        Assert.Equal(message, arrival.Message);
        Assert.Equal(messageId, arrival.MessageId);
        Assert.Equal(correlationId, arrival.CorrelationId);
        Assert.Equal(conversationId, arrival.ConversationId);
        Assert.Equal(initiatorId, arrival.InitiatorId);
        Assert.Equal(responses, arrival.ResponseAddress);
        Assert.Equal(faults, arrival.FaultAddress);
        Assert.Equal("kept", arrival.Headers.Get<string>("Test-Text"));
        Assert.Equal(42, arrival.Headers.Get<int>("Test-Number"));
        Assert.Equal(2, arrival.RedeliveryCount);
        Assert.Equal(scheduled.TokenId, arrival.TokenId);
        // On the wire too, where anything but MassTransit reads them.
        Assert.Equal("kept", arrival.TransportHeaders.Get<string>("Test-Text"));
        Assert.Equal(scheduled.TokenId, arrival.TransportHeaders.Get<Guid>(MessageHeaders.SchedulingTokenId));
        await _bed.Until(async () => !await _bed.Stored(scheduled.TokenId), "the fired schedule left the store");
    }

    [Fact]
    public async Task A_scheduled_message_fires_after_the_node_that_stored_it_is_replaced()
    {
        var first = await _bed.StartNode();
        var message = new SchedulingPinged(NewId.NextGuid());
        // Due long after the first node stops, however slow the machine; made due only once no node runs.
        var due = DateTime.UtcNow.AddHours(1);
        var scheduled = await first.Services.GetRequiredService<IMessageScheduler>().ScheduleSend(_bed.ProbeAddress, due, message);
        await _bed.Until(() => _bed.Stored(scheduled.TokenId), "the schedule was stored");

        await _bed.StopNode(first);
        Assert.Empty(_bed.ArrivalsOf(message.Id));
        Assert.True(await _bed.Stored(scheduled.TokenId));
        var early = due - DateTime.UtcNow;
        await _bed.Backdate(scheduled.TokenId, early);
        due -= early;

        await _bed.StartNode();
        var arrival = await _bed.Single(message.Id);

        Assert.True(arrival.ReceivedAt >= due - ClockSlack);
        Assert.Equal(scheduled.TokenId, arrival.TokenId);
    }

    [Fact]
    public async Task Scheduling_a_token_again_replaces_what_was_stored_for_it()
    {
        var node = await _bed.StartNode();
        var scheduler = await node.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{_bed.SchedulerQueue}"));
        var token = NewId.NextGuid();
        var replaced = new SchedulingPinged(NewId.NextGuid());
        var replacement = new SchedulingPinged(NewId.NextGuid());

        // The replaced schedule is due long after the replacement: once the replacement has fired, nothing may be left
        // stored for the token. No race with the clock: a due time that a loaded machine could pass first proves nothing.
        await scheduler.Send<ScheduleMessage>(new ScheduleMessageCommand<SchedulingPinged>(DateTime.UtcNow.AddHours(1), _bed.ProbeAddress, replaced, token));
        await _bed.Until(() => _bed.Stored(token), "the first schedule was stored");
        await scheduler.Send<ScheduleMessage>(new ScheduleMessageCommand<SchedulingPinged>(DateTime.UtcNow, _bed.ProbeAddress, replacement, token));
        var arrival = await _bed.Single(replacement.Id);

        Assert.Equal(token, arrival.TokenId);
        await _bed.Until(async () => !await _bed.Stored(token), "nothing is left stored for the token");
        Assert.Empty(_bed.ArrivalsOf(replaced.Id));
    }
}
