using System.Text;
using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Saga.Cli;
using Saga.Components.EventStore;
using Saga.Components.Hosting;
using Saga.Components.Ledgers;
using Saga.Components.Scheduling;
using Saga.Components.Security;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Infrastructure;

/// <summary>
/// A virtual host and databases set up as infra/up.sh sets up the deployed ones (infra/service-accounts.sh),
/// each service's migrations run as its own role, and no host running: what each account may do.
/// </summary>
public sealed class ServiceAccounts_Setup : IAsyncLifetime
{
    public string Name { get; } = "perm_" + Guid.NewGuid().ToString("N")[..10];

    public ServiceAccounts_Setup() => Accounts = ServiceAccounts.Read(LocalSystem.FindRoot(), database: Name);

    /// <summary>The services' accounts, each with a database of this run's own (the coordinator's is <see cref="Name"/>).</summary>
    public ServiceAccounts Accounts { get; }

    public async Task InitializeAsync()
    {
        await Servers.RequireRabbitMq();
        await Servers.RequirePostgres();
        await SagaSystem.CreateVirtualHost(Name, Accounts);
        await SagaSystem.CreateDatabases(Accounts);

        // Each service's schema, made by the service itself as its own role, as the hosts do at start.
        using (var store = DocumentStore.For(o => TransferEventStore.Configure(o, ConnectionString(Accounts.Coordinator))))
        {
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        }
        await SchedulerSchema.Ensure(ConnectionString(Accounts.Coordinator), "scheduler", CancellationToken.None);
        foreach (var id in new[] { "A", "B" })
        {
            await using var dataSource = NpgsqlDataSource.Create(ConnectionString(Accounts.Ledger(id)));
            await using var ledger = new LedgerDatabase(dataSource, Options.Create(new LedgerOptions { Id = id }));
            await ledger.Migrate(CancellationToken.None);
        }

        // The ledger's transfer queue, as the ledger declares it and the coordinator's first send binds it.
        await using var coordinator = await Connect(Accounts.Coordinator);
        await using var channel = await coordinator.CreateChannelAsync();
        await channel.QueueDeclareAsync(Queues.Ledger("B"), durable: true, exclusive: false, autoDelete: false);
        await channel.ExchangeDeclareAsync(Queues.Ledger("B"), ExchangeType.Fanout, durable: true);
        await channel.QueueBindAsync(Queues.Ledger("B"), Queues.Ledger("B"), "");
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await SagaSystem.DropDatabases(Accounts);
        using var http = Servers.RabbitMq().CreateManagementClient();
        await http.DeleteAsync($"api/vhosts/{Name}");
    }

    /// <summary><paramref name="account"/> in its own database, or in <paramref name="databaseOf"/>'s.</summary>
    public string ConnectionString(ServiceAccount account, ServiceAccount? databaseOf = null)
    {
        var database = databaseOf ?? account;
        return new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString)
        {
            Host = database.DatabaseHost, Port = database.DatabasePort, Database = database.Database, Username = account.DatabaseRole, Password = account.Password,
        }.ConnectionString;
    }

    public Task<IConnection> Connect(ServiceAccount account)
    {
        var rabbit = Servers.RabbitMq(Name);
        rabbit.Username = account.BrokerUser;
        rabbit.Password = account.Password;
        return rabbit.Connect("tests: " + account.Service);
    }

    /// <summary>Messages waiting in <paramref name="queue"/>, asked as the administrator.</summary>
    public async Task<uint> MessagesIn(string queue)
    {
        await using var connection = await Servers.RabbitMq(Name).Connect("tests: count");
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }
}

public sealed class ServiceAccount_Specs(ServiceAccounts_Setup setup) : IClassFixture<ServiceAccounts_Setup>
{
    private static readonly byte[] Credit = Encoding.UTF8.GetBytes(
        $$$"""{"messageType":["urn:message:Saga.Contracts:CreditAccount"],"message":{"transferId":"{{{Guid.NewGuid()}}}","to":{"ledger":"B","accountId":"mallory"},"amount":1000000,"currency":"EUR"}}""");

    public static TheoryData<string, string, string> CreditRoutes => new()
    {
        // service, exchange, routing key
        { "api", "ledger-b", "" },
        { "api", "Saga.Contracts:CreditAccount", "" },
        { "api", "", "ledger-b" },
        { "ledger-b", "ledger-b", "" },
        { "ledger-b", "Saga.Contracts:CreditAccount", "" },
        { "ledger-b", "", "ledger-b" },
        { "ledger-a", "ledger-b", "" },
    };

    [Theory]
    [MemberData(nameof(CreditRoutes))]
    public async Task Only_the_coordinator_can_put_a_credit_into_a_ledgers_queue(string service, string exchange, string routingKey)
    {
        var before = await setup.MessagesIn(Queues.Ledger("B"));

        var refused = await Publish(setup.Accounts[service], exchange, routingKey, Credit);

        Assert.Equal(403, refused);
        Assert.Equal(before, await setup.MessagesIn(Queues.Ledger("B"))); // another spec's credit may wait there
    }

    [Fact]
    public async Task Neither_the_Api_nor_a_ledger_can_bind_another_exchange_to_a_ledgers_queue()
    {
        foreach (var service in new[] { "api", "ledger-b" })
        {
            await using var connection = await setup.Connect(setup.Accounts[service]);
            await using var channel = await connection.CreateChannelAsync();
            var e = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.QueueBindAsync(Queues.Ledger("B"), "amq.fanout", ""));
            Assert.Equal((ushort)403, e.ShutdownReason?.ReplyCode);
        }
    }

    [Fact]
    public async Task The_Api_cannot_schedule()
    {
        Assert.Equal(403, await Publish(setup.Accounts.Api, Queues.Scheduler, "", Credit));
    }

    [Fact]
    public async Task The_Api_cannot_deliver_a_commit_to_the_coordinators_queue()
    {
        var commit = Encoding.UTF8.GetBytes($$$"""{"messageType":["urn:message:Saga.Contracts:CommitTransfer"],"message":{"transferId":"{{{Guid.NewGuid()}}}"}}""");

        Assert.Equal(403, await Publish(setup.Accounts.Api, Queues.Coordinator, "", commit));
        Assert.Equal(403, await Publish(setup.Accounts.Api, "", Queues.Coordinator, commit));
    }

    [Fact]
    public async Task A_ledger_cannot_sign_a_message_as_another_ledger_and_the_coordinator_knows_each_ledger_by_its_account()
    {
        var commit = Encoding.UTF8.GetBytes($$$"""{"messageType":["urn:message:Saga.Contracts:CommitTransfer"],"message":{"transferId":"{{{Guid.NewGuid()}}}"}}""");
        var ledgerB = setup.Accounts.Ledger("B");

        await using (var connection = await setup.Connect(ledgerB))
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(Queues.Coordinator, ExchangeType.Fanout, durable: true); // as B's bus does; nothing bound here
        }

        Assert.Equal(406, await Publish(ledgerB, Queues.Coordinator, "", commit, signedAs: setup.Accounts.Ledger("A").BrokerUser));
        Assert.Equal(406, await Publish(ledgerB, Queues.Coordinator, "", commit, signedAs: setup.Accounts.Coordinator.BrokerUser));
        Assert.Null(await Publish(ledgerB, Queues.Coordinator, "", commit, signedAs: ledgerB.BrokerUser));

        var senders = new SenderOptions();
        Assert.Equal((setup.Accounts.Coordinator.BrokerUser, ledgerB.BrokerUser), (senders.Coordinator, senders.LedgerUser("B")));
    }

    [Fact]
    public async Task The_coordinator_can_send_a_credit_and_the_Api_can_submit()
    {
        var before = await setup.MessagesIn(Queues.Ledger("B"));
        Assert.Null(await Publish(setup.Accounts.Coordinator, Queues.Ledger("B"), "", Credit));
        Assert.Equal(before + 1, await Eventually.Until(() => setup.MessagesIn(Queues.Ledger("B")), n => n == before + 1,
            "the coordinator's credit reached ledger-b", TimeSpan.FromSeconds(30)));

        // The same account, on what it is for: a submission (MassTransit declares and binds the queue it sends to).
        await using var connection = await setup.Connect(setup.Accounts.Api);
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(Queues.HalfMessages, ExchangeType.Fanout, durable: true);
        await channel.QueueDeclareAsync(Queues.HalfMessages, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(Queues.HalfMessages, Queues.HalfMessages, "");
        Assert.Null(await Publish(setup.Accounts.Api, Queues.HalfMessages, "", Credit));
    }

    [Fact]
    public async Task The_Api_reads_transfers_and_writes_no_one_elses_tables()
    {
        await using var api = new NpgsqlConnection(setup.ConnectionString(setup.Accounts.Api));
        await api.OpenAsync();

        Assert.Equal(0L, await Scalar(api, "select count(*) from saga.mt_doc_transfer"));
        Assert.Equal(0L, await Scalar(api, "select count(*) from saga.mt_events"));
        await Refused(api, "insert into saga.mt_doc_transfer (id) values (gen_random_uuid())");
        await Refused(api, "update saga.mt_doc_transfer set data = '{}'");
        await Refused(api, "delete from saga.mt_events");
        await Refused(api, "select count(*) from scheduler.qrtz_triggers");
        // The ledgers' tables are not in its database, and theirs will not have it.
        await RefusedToConnect(setup.Accounts.Api, setup.Accounts.Ledger("A"));
        await RefusedToConnect(setup.Accounts.Api, setup.Accounts.Ledger("B"));
    }

    [Fact]
    public async Task A_ledger_reaches_only_its_own_schema()
    {
        await using var a = new NpgsqlConnection(setup.ConnectionString(setup.Accounts.Ledger("A")));
        await a.OpenAsync();

        Assert.Equal(0L, await Scalar(a, "select count(*) from ledger_a.accounts"));
        // Another ledger's tables, and the coordinator's, are in databases it may not connect to.
        await RefusedToConnect(setup.Accounts.Ledger("A"), setup.Accounts.Ledger("B"));
        await RefusedToConnect(setup.Accounts.Ledger("A"), setup.Accounts.Coordinator);
        await Refused(a, "create schema mallory");
        await Refused(a, "create table public.mallory (id int)");
    }

    /// <summary>Publishes with publisher confirms; null when the broker took it, else the reply code it closed the channel with.</summary>
    private async Task<int?> Publish(ServiceAccount account, string exchange, string routingKey, byte[] body, string? signedAs = null)
    {
        await using var connection = await setup.Connect(account);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        try
        {
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, new BasicProperties { Persistent = true, ContentType = "application/vnd.masstransit+json", UserId = signedAs }, body);
            return null;
        }
        catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or PublishException)
        {
            return channel.CloseReason?.ReplyCode ?? (e as OperationInterruptedException)?.ShutdownReason?.ReplyCode;
        }
    }

    private static async Task<long> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task RefusedToConnect(ServiceAccount account, ServiceAccount databaseOf)
    {
        await using var connection = new NpgsqlConnection(setup.ConnectionString(account, databaseOf));
        var e = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    private static async Task Refused(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var e = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }
}
