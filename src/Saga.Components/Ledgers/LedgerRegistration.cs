using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Saga.Components.Ledgers;
using Saga.Contracts;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

public static class LedgerRegistration
{
    /// <summary>The ledger's options, database, fault injector and transfer queue; needs an <c>NpgsqlDataSource</c>.</summary>
    public static LedgerOptions AddLedger(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(LedgerOptions.Section);
        var options = section.Get<LedgerOptions>() ?? new LedgerOptions();
        options.Validate();
        services.Configure<LedgerOptions>(section);
        services.Configure<FaultInjectionOptions>(section.GetSection("FaultInjection"));
        services.AddSingleton<LedgerDatabase>();
        services.AddSingleton<FaultInjector>();
        // Ahead of the bus, which consumes the queue but does not declare it.
        services.AddSingleton(new LedgerQueueDeclaration.Queue(Queues.Ledger(options.Id)));
        services.AddHostedService<LedgerQueueDeclaration>();
        return options;
    }

    /// <summary>
    /// One ledger's consumers: its part in transfers on "ledger-{id}", its accounts on "ledger-{id}-accounts".
    /// Neither binds a message type's exchange: nothing is published to a ledger, and a published
    /// CreditAccount must not reach one. The transfer queue is declared (<see cref="LedgerQueueDeclaration"/>)
    /// but not bound here: binding needs write permission on it, which only the coordinator has, and the
    /// coordinator's first send binds it (README.md, "Service accounts").
    /// </summary>
    public static void AddLedgerConsumers(this IBusRegistrationConfigurator x, LedgerOptions options)
    {
        var transfers = Queues.Ledger(options.Id);
        var accounts = Queues.LedgerAccounts(options.Id);
        // Every ledger operation is idempotent, so a database restart is waited out (~20 s) rather than faulted.
        // Only transient errors (a lost connection, a server shutting down or starting): a bad statement fails at once.
        x.AddConfigureEndpointsCallback((_, name, endpoint) =>
        {
            if (name == transfers || name == accounts)
            {
                endpoint.UseMessageRetry(r =>
                {
                    r.Handle<Npgsql.NpgsqlException>(e => e.IsTransient);
                    r.Handle<TimeoutException>();
                    r.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
                });
            }
            if (name == transfers && endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            {
                rabbit.BindQueue = false;
            }
        });
        x.AddConsumer<ExecuteLocalTransactionConsumer>().Endpoint(e => Own(e, transfers));
        x.AddConsumer<CheckLocalTransactionConsumer>().Endpoint(e => Own(e, transfers));
        x.AddConsumer<CreditAccountConsumer, CreditAccountConsumerDefinition>().Endpoint(e => Own(e, transfers));
        x.AddConsumer<VoidCreditConsumer>().Endpoint(e => Own(e, transfers));
        x.AddConsumer<OpenAccountConsumer>().Endpoint(e => Own(e, accounts));
        x.AddConsumer<GetAccountConsumer>().Endpoint(e => Own(e, accounts));
        x.AddConsumer<ListAccountTransfersConsumer>().Endpoint(e => Own(e, accounts));
    }

    private static void Own(IEndpointRegistrationConfigurator endpoint, string queue)
    {
        endpoint.Name = queue;
        endpoint.ConfigureConsumeTopology = false;
    }
}
