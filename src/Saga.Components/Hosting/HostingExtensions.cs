using Marten;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Saga.Components.EventStore;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Components.Hosting;

public static class HostingExtensions
{
    /// <summary>
    /// Binds the "RabbitMq", "Senders" and "Postgres" sections and registers one pooled <see cref="NpgsqlDataSource"/>; Marten,
    /// in a host that adds it, logs through <see cref="MartenLogging"/>.
    /// </summary>
    public static PostgresOptions AddSagaServers(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RabbitMqOptions>(configuration.GetSection(RabbitMqOptions.Section));
        services.Configure<SenderOptions>(configuration.GetSection(SenderOptions.Section));
        var postgres = configuration.GetSection(PostgresOptions.Section).Get<PostgresOptions>() ?? new PostgresOptions();
        services.AddSingleton(_ => NpgsqlDataSource.Create(postgres.ConnectionString));
        services.ConfigureMarten((provider, marten) =>
        {
            marten.Logger(new MartenLogging(provider.GetRequiredService<ILoggerFactory>().CreateLogger<IDocumentStore>()));
        });
        services.AddSingleton(TimeProvider.System);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return postgres;
    }

    /// <summary>Watches how many messages wait in <paramref name="queue"/> (<see cref="QueueBacklog"/>), for admission control.</summary>
    public static IServiceCollection AddQueueBacklog(this IServiceCollection services, string queue, int limit)
    {
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<QueueBacklog>(sp, queue, limit));
        services.AddHostedService(sp => sp.GetRequiredService<QueueBacklog>());
        return services;
    }

    /// <summary>
    /// The broker, from the "RabbitMq" section: durable queues and persistent messages (MassTransit's
    /// defaults), publisher confirms, every message signed with the host's broker user (<see cref="SignAs"/>), scheduling through <see cref="Queues.SchedulerAddress"/>, every send mandatory and its
    /// queue declared by the sender (<see cref="DestinationQueues"/>), and quorum queues when configured; a <see cref="ConsumerWatchdog"/> stops the host if an endpoint loses its consumer, a
    /// <see cref="StuckSendWatchdog"/> if a send never gets its confirm; each message's time in transit recorded (<see cref="DeliveryObserver"/>); no usage telemetry.
    /// </summary>
    public static void UsingSagaRabbitMq(this IBusRegistrationConfigurator x, IConfiguration configuration,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configure = null)
    {
        var options = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        x.AddConfigureEndpointsCallback((_, _, endpoint) => options.ConfigureEndpoint(endpoint));
        // MassTransit would report this host's usage to masstransit.io five minutes after start: nothing leaves unasked.
        x.DisableUsageTelemetry();
        x.AddBusObserver<ResponseEndpointObserver>();
        x.AddConsumeObserver<DeliveryObserver>();
        x.Configure<ConsumerWatchdogOptions>(configuration.GetSection(ConsumerWatchdogOptions.Section));
        x.AddSingleton<ConsumerWatchdog>();
        x.AddHostedService(sp => sp.GetRequiredService<ConsumerWatchdog>());
        x.AddReceiveEndpointObserver(sp => sp.GetRequiredService<ConsumerWatchdog>());
        x.AddSingleton<StuckSendWatchdog>();
        x.AddHostedService(sp => sp.GetRequiredService<StuckSendWatchdog>());
        x.AddSendObserver(sp => sp.GetRequiredService<StuckSendWatchdog>());
        // A stopping host gives its consumers 10 s, then cancels their tokens; the bus is stopped within the host's 30 s.
        x.AddOptions<MassTransitHostOptions>().Configure(o =>
        {
            o.ConsumerStopTimeout = TimeSpan.FromSeconds(10);
            o.StopTimeout = TimeSpan.FromSeconds(20);
        });
        x.UsingRabbitMq((context, cfg) =>
        {
            cfg.Host(options.Host, options.Port, options.VirtualHost, h =>
            {
                h.Username(options.Username);
                h.Password(options.Password);
                h.PublisherConfirmation = true;
                if (options.Nodes is not null)
                {
                    h.UseCluster(c =>
                    {
                        foreach (var node in options.ClusterNodes)
                        {
                            c.Node(node);
                        }
                    });
                }
            });
            // Every message signed with this host's broker user, which the broker checks: who sent a commit or a
            // confirmation (SentBy) is then known to the coordinator, never taken on a message's word.
            SignAs.Everything(cfg, options.Username);
            // Sends go to exchanges (Queues): the queue behind each declared by its sender with its arguments, and every send mandatory.
            DestinationQueues.Everything(cfg, new DestinationQueues(options));
            cfg.PrefetchCount = options.PrefetchCount;
            cfg.UseMessageScheduler(Queues.SchedulerAddress);
            configure?.Invoke(context, cfg);
            cfg.ConfigureEndpoints(context);
        });
    }
}
