using MassTransit.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Saga.Components.Scheduling;
using Saga.Contracts;

// Beside MassTransit's own registration extensions, so the registration reads like theirs.
// ReSharper disable once CheckNamespace
namespace MassTransit;

public static class DurableSchedulerRegistration
{
    /// <summary>
    /// The durable scheduler's Quartz side: a clustered scheduler on the PostgreSQL ADO job store, its
    /// tables in <paramref name="schema"/> (created at startup if missing). It runs with the bus that
    /// <see cref="AddDurableSchedulerConsumers"/> is added to.
    /// </summary>
    public static IServiceCollection AddDurableScheduler(this IServiceCollection services, string connectionString, string schema = "scheduler",
        Action<DurableSchedulerOptions>? configure = null)
    {
        var options = new DurableSchedulerOptions { ConnectionString = connectionString, Schema = schema };
        configure?.Invoke(options);
        options.Validate();

        services.AddSingleton(options);
        services.AddSingleton<DurableScheduler>();
        services.AddSingleton<SchedulerMetrics>();
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = options.SchedulerName;
                // A stopping node cancels its running sends and hands them back (RecoverFiringsCancelledByShutdown)
                // rather than waiting on a send that may not end.
                s.ShutdownJobInterruption = ShutdownJobInterruption.WhenWaitingForJobs;
            });
            q.UseDefaultThreadPool(options.ThreadCount);
            // A failed send is fired again from the store, not refired on the spot: the wait survives the node and
            // frees the thread. Unbounded, because an exhausted one-shot trigger is deleted with its message; the
            // scheduler's default rather than each trigger's own, so triggers stored before it was set are covered.
            q.UseDefaultRetryPolicy(RetryPolicy.Exponential(int.MaxValue, options.SendRetryDelay, 2, options.MaxSendRetryDelay, jitter: 0.2));
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(options.ConnectionString);
                store.UseClustering();
                store.UseSystemTextJsonSerializer();
                store.ConfigureStore(s =>
                {
                    s.TablePrefix = options.TablePrefix;
                    s.SchemaProvisioning = SchemaProvisioning.Validate; // the tables are ours: SchedulerSchema
                    s.RecoverFiringsCancelledByShutdown = true;
                });
            });
        });
        return services;
    }

    /// <summary>
    /// The consumers of <c>ScheduleMessage</c> and <c>CancelScheduledMessage</c>, on one receive endpoint
    /// named <see cref="Queues.Scheduler"/> unless <paramref name="endpoint"/> says otherwise, and the Quartz
    /// scheduler started and stopped with this bus. Needs <see cref="AddDurableScheduler"/>.
    /// </summary>
    public static IBusRegistrationConfigurator AddDurableSchedulerConsumers(this IBusRegistrationConfigurator configurator,
        Action<IEndpointRegistrationConfigurator>? endpoint = null)
    {
        configurator.AddBusObserver<SchedulerBusObserver>();
        configurator.AddConsumer<ScheduleMessageConsumer, SchedulerConsumerDefinition<ScheduleMessageConsumer>>().Endpoint(Configure);
        configurator.AddConsumer<CancelScheduledMessageConsumer, SchedulerConsumerDefinition<CancelScheduledMessageConsumer>>().Endpoint(Configure);
        return configurator;

        void Configure(IEndpointRegistrationConfigurator e)
        {
            e.Name = Queues.Scheduler;
            endpoint?.Invoke(e);
        }
    }

    private sealed class SchedulerConsumerDefinition<TConsumer>(DurableSchedulerOptions options) : ConsumerDefinition<TConsumer>
        where TConsumer : class, IConsumer
    {
        // A database that is briefly away should not send schedules to the error queue. There is no later
        // redelivery to fall back on: scheduled redelivery would go through this very store, and the broker has
        // no delayed-message plugin. So the retries are in process, and what outlasts them waits in the error queue.
        protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
            IRegistrationContext context) =>
            consumerConfigurator.UseMessageRetry(r =>
            {
                r.Ignore<NotSupportedException>(); // a message this scheduler cannot keep will not become one it can
                r.Intervals([.. options.StoreRetryIntervals]);
            });
    }
}
