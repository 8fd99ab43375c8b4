using MassTransit;

namespace Saga.Components.Tests.Scheduling;

public sealed class ScheduledRedelivery_Specs : IAsyncLifetime
{
    private readonly SchedulingTestbed _bed = new();

    public Task InitializeAsync() => _bed.InitializeAsync();

    public Task DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task A_consumer_that_fails_gets_the_message_again_through_the_scheduler_with_its_redelivery_count()
    {
        var node = await _bed.StartNode(probeEndpoint: e => e.UseScheduledRedelivery(r => r.Intervals(TimeSpan.FromMilliseconds(500))));
        var bus = (IBus)node.Services.GetService(typeof(IBus))!;
        var message = new SchedulingPinged(NewId.NextGuid(), FailFirstDelivery: true);

        var endpoint = await bus.GetSendEndpoint(_bed.ProbeAddress);
        await endpoint.Send(message, c => c.Headers.Set("Test-Text", "kept"));
        await _bed.Until(() => Task.FromResult(_bed.ArrivalsOf(message.Id).Count >= 2), "the message was delivered again");

        var deliveries = _bed.ArrivalsOf(message.Id);
        Assert.Equal([0, 1], deliveries.Select(d => d.RedeliveryCount));
        // MassTransit's redelivery gives the copy a new id and keeps the first in a header.
        Assert.Equal(deliveries[0].MessageId, deliveries[1].Headers.Get<Guid>(MessageHeaders.OriginalMessageId));
        Assert.Equal("kept", deliveries[1].Headers.Get<string>("Test-Text"));
        Assert.Null(deliveries[0].TokenId);
        Assert.NotNull(deliveries[1].TokenId); // sent by the durable scheduler's job
        Assert.True(deliveries[1].ReceivedAt - deliveries[0].ReceivedAt >= TimeSpan.FromMilliseconds(500));
    }
}
