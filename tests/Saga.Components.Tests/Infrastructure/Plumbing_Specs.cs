using Marten;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Saga.Testing;

namespace Saga.Components.Tests.Infrastructure;

/// <summary>The ground the rest stands on: a message through the real RabbitMQ, events through the real PostgreSQL.</summary>
public sealed class Plumbing_Specs
{
    public sealed record PlumbingPinged(Guid Id);

    public sealed record PlumbingNoted(string Text);

    private sealed class PingConsumer : IConsumer<PlumbingPinged>
    {
        public Task Consume(ConsumeContext<PlumbingPinged> context) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_message_published_on_RabbitMQ_is_consumed()
    {
        await Servers.RequireRabbitMq();
        await using var provider = new ServiceCollection()
            .AddMassTransitTestHarness(x =>
            {
                // The real broker takes longer than the in-memory default to bind a new queue.
                x.SetTestTimeouts(testTimeout: TimeSpan.FromSeconds(30), testInactivityTimeout: TimeSpan.FromSeconds(10));
                x.AddConsumer<PingConsumer>().Endpoint(e =>
                {
                    e.Name = "plumbing-" + Guid.NewGuid().ToString("N")[..8];
                    e.Temporary = true;
                });
                x.UsingRabbitMq((context, cfg) =>
                {
                    var rabbit = Servers.RabbitMq();
                    cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                    {
                        h.Username(rabbit.Username);
                        h.Password(rabbit.Password);
                    });
                    cfg.ConfigureEndpoints(context);
                });
            })
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        try
        {
            var id = Guid.NewGuid();
            await harness.Bus.Publish(new PlumbingPinged(id));

            Assert.True(await harness.GetConsumerHarness<PingConsumer>().Consumed.Any<PlumbingPinged>(m => m.Context.Message.Id == id));
        }
        finally
        {
            await harness.Stop();
        }
    }

    [Fact]
    public async Task Events_appended_through_Marten_read_back_in_order()
    {
        await Servers.RequirePostgres();
        var schema = new PostgresSchema();
        await schema.InitializeAsync();
        try
        {
            var stream = Guid.NewGuid();
            await using (var session = schema.Store.LightweightSession())
            {
                session.Events.StartStream(stream, new PlumbingNoted("first"), new PlumbingNoted("second"));
                await session.SaveChangesAsync();
            }

            await using var query = schema.Store.QuerySession();
            var events = await query.Events.FetchStreamAsync(stream);

            Assert.Equal(["first", "second"], events.Select(e => ((PlumbingNoted)e.Data).Text));
            Assert.Equal([1L, 2L], events.Select(e => e.Version));
        }
        finally
        {
            await schema.DisposeAsync();
        }
    }
}
