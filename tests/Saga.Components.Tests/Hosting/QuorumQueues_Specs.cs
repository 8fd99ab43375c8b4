using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Saga.Components.Hosting;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Hosting;

/// <summary>
/// Hosts on one broker node with <c>RabbitMq__QuorumQueues=true</c> (a quorum queue works on a single node too), each
/// in a virtual host of its own: a sender never declares a queue as MassTransit would, without its arguments, and a
/// message no queue takes comes back to its sender.
/// </summary>
public sealed class QuorumQueues_Specs : IAsyncLifetime
{
    private readonly string _virtualHost = "quorum_" + Guid.NewGuid().ToString("N")[..10];
    private readonly Arrivals _arrivals = new();
    private readonly List<IHost> _hosts = [];

    public async Task InitializeAsync()
    {
        await Servers.RequireRabbitMq();
        var rabbit = Servers.RabbitMq();
        using var http = rabbit.CreateManagementClient();
        (await http.PutAsync($"api/vhosts/{_virtualHost}", null)).EnsureSuccessStatusCode();
        (await http.PutAsJsonAsync($"api/permissions/{_virtualHost}/{rabbit.Username}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        using var http = Servers.RabbitMq().CreateManagementClient();
        await http.DeleteAsync($"api/vhosts/{_virtualHost}");
    }

    [Fact]
    public async Task A_message_another_host_sends_to_a_quorum_endpoint_is_delivered()
    {
        await StartHost(consumes: Queues.Repairs);
        var sender = await StartHost();
        var ping = new QuorumPing(Guid.NewGuid());

        await Send(sender, Queues.RepairsAddress, ping);

        await Eventually.Until(() => _arrivals.Contains(ping.Id), "the ping arrived", TimeSpan.FromSeconds(30));
        Assert.Equal("quorum", await QueueType(Queues.Repairs));
    }

    [Fact]
    public async Task A_message_sent_before_its_consumer_ever_started_waits_in_its_quorum_queue()
    {
        var sender = await StartHost();
        var ping = new QuorumPing(Guid.NewGuid());

        await Send(sender, Queues.HalfMessagesAddress, ping);
        Assert.Equal("quorum", await QueueType(Queues.HalfMessages));
        await StartHost(consumes: Queues.HalfMessages);

        await Eventually.Until(() => _arrivals.Contains(ping.Id), "the ping arrived", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_send_no_queue_takes_is_returned_to_its_sender_not_lost()
    {
        var sender = await StartHost();

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Send(sender, new Uri("exchange:nowhere"), new QuorumPing(Guid.NewGuid())));

        Assert.True(refused is MessageReturnedException || refused.InnerException is MessageReturnedException, refused.ToString());
    }

    private async Task<IHost> StartHost(string? consumes = null)
    {
        var rabbit = Servers.RabbitMq(_virtualHost);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RabbitMq:Host"] = rabbit.Host,
            ["RabbitMq:Port"] = rabbit.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RabbitMq:ManagementPort"] = rabbit.ManagementPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RabbitMq:VirtualHost"] = rabbit.VirtualHost,
            ["RabbitMq:Username"] = rabbit.Username,
            ["RabbitMq:Password"] = rabbit.Password,
            ["RabbitMq:QuorumQueues"] = "true",
        });
        builder.Services.AddSagaServers(builder.Configuration);
        builder.Services.AddSingleton(_arrivals);
        builder.Services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true);
        builder.Services.AddMassTransit(x =>
        {
            if (consumes is not null)
            {
                x.AddConsumer<QuorumPingConsumer>().Endpoint(e =>
                {
                    e.Name = consumes;
                    e.ConfigureConsumeTopology = false;
                });
            }
            x.UsingSagaRabbitMq(builder.Configuration);
        });
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync();
        return host;
    }

    private static async Task Send(IHost host, Uri address, QuorumPing ping)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(address);
        await endpoint.Send(ping, timeout.Token);
    }

    private async Task<string?> QueueType(string queue)
    {
        using var http = Servers.RabbitMq().CreateManagementClient();
        var json = await http.GetFromJsonAsync<JsonElement>($"api/queues/{_virtualHost}/{queue}");
        return json.GetProperty("type").GetString();
    }

    public sealed class Arrivals
    {
        private readonly ConcurrentDictionary<Guid, bool> _ids = new();

        public void Add(Guid id) => _ids[id] = true;

        public bool Contains(Guid id) => _ids.ContainsKey(id);
    }

    public sealed class QuorumPingConsumer(Arrivals arrivals) : IConsumer<QuorumPing>
    {
        public Task Consume(ConsumeContext<QuorumPing> context)
        {
            arrivals.Add(context.Message.Id);
            return Task.CompletedTask;
        }
    }
}

public sealed record QuorumPing(Guid Id);
