using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Saga.Components.Ledgers;
using Saga.Contracts;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

public static class LedgerRegistration
{
    /// <summary>The ledger's options, database and fault injector; needs an <c>NpgsqlDataSource</c>.</summary>
    public static LedgerOptions AddLedger(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(LedgerOptions.Section);
        var options = section.Get<LedgerOptions>() ?? new LedgerOptions();
        options.Validate();
        services.Configure<LedgerOptions>(section);
        services.Configure<FaultInjectionOptions>(section.GetSection("FaultInjection"));
        services.AddSingleton<LedgerDatabase>();
        services.AddSingleton<FaultInjector>();
        return options;
    }

    /// <summary>All of one ledger's consumers on its one queue, "ledger-{id}".</summary>
    public static void AddLedgerConsumers(this IBusRegistrationConfigurator x, LedgerOptions options)
    {
        // Every ledger operation is idempotent, so a database restart is waited out (~20 s) rather than faulted.
        // Only transient errors (a lost connection, a server shutting down or starting): a bad statement fails at once.
        x.AddConfigureEndpointsCallback((_, name, endpoint) =>
        {
            if (name == Queues.Ledger(options.Id))
            {
                endpoint.UseMessageRetry(r =>
                {
                    r.Handle<Npgsql.NpgsqlException>(e => e.IsTransient);
                    r.Handle<TimeoutException>();
                    r.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
                });
            }
        });
        x.AddConsumer<ExecuteLocalTransactionConsumer>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
        x.AddConsumer<CheckLocalTransactionConsumer>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
        x.AddConsumer<CreditAccountConsumer, CreditAccountConsumerDefinition>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
        x.AddConsumer<VoidCreditConsumer>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
        x.AddConsumer<OpenAccountConsumer>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
        x.AddConsumer<GetAccountConsumer>().Endpoint(e => e.Name = Queues.Ledger(options.Id));
    }
}
