using System.Net.Http.Json;
using System.Text;
using MassTransit;
using Npgsql;
using RabbitMQ.Client;
using Saga.Cli;
using Saga.Components.Security;
using Saga.Contracts;
using Xunit;

namespace Saga.Testing;

/// <summary>
/// The whole system as processes — coordinator, ledger A, ledger B — on the real RabbitMQ and
/// PostgreSQL, in a virtual host of its own and databases of its own: one for each service, on the server
/// infra/config.sh places it (the coordinator's is named <see cref="Name"/>, a ledger's {Name}_ledger_{id}),
/// so a query from one service's host into another's tables fails here as it would deployed.
/// </summary>
public class SagaSystem : IAsyncLifetime
{
    private readonly string _name = "e2e_" + Guid.NewGuid().ToString("N")[..10];
    private IBusControl _bus = null!;
    private string _logs = "";
    private readonly List<HostProcess> _extra = [];
    private readonly Dictionary<string, IBusControl> _signed = [];

    /// <summary>Settings a fixture of its own adds to the coordinator's.</summary>
    protected virtual IReadOnlyDictionary<string, string> CoordinatorSettings { get; } = new Dictionary<string, string>();

    public SagaSystem() => Accounts = ServiceAccounts.Read(LocalSystem.FindRoot(), database: _name);

    /// <summary>The virtual host of this run, and the coordinator's database (which the Api shares).</summary>
    public string Name => _name;

    /// <summary>Receives every host's spans (OTLP over HTTP).</summary>
    public OtlpCollector Traces { get; } = new();

    public HostProcess Coordinator { get; private set; } = null!;
    public HostProcess LedgerA { get; private set; } = null!;
    public HostProcess LedgerB { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        await Servers.RequireRabbitMq();
        await CreateVirtualHost();
        await CreateDatabases(Accounts);

        var rabbit = Servers.RabbitMq(_name);
        var common = new Dictionary<string, string>
        {
            ["RabbitMq__Host"] = rabbit.Host, ["RabbitMq__Port"] = rabbit.Port.ToString(), ["RabbitMq__VirtualHost"] = rabbit.VirtualHost,
        };
        foreach (var (key, value) in Traces.Environment)
        {
            common[key] = value;
        }
        var logs = Path.Combine(Path.GetTempPath(), "saga-e2e", _name);
        // Each host as its own service account, as deployed: the specs prove its permissions suffice.
        Coordinator = new HostProcess("coordinator", "Saga.Coordinator", With(common, Accounts.Coordinator.Environment, new()
        {
            // Long enough that a loaded machine still debits before the first check-back, which would otherwise
            // roll back transfers the specs expect to complete.
            ["TransferSaga__CheckBackTimeout"] = "00:00:05", ["TransferSaga__MaxCheckBackInterval"] = "00:00:05",
            ["CheckBackScan__Interval"] = "00:00:00.200",
        }).Concat(CoordinatorSettings).ToDictionary(kv => kv.Key, kv => kv.Value), logs);
        LedgerA = new HostProcess("ledger-a", "Saga.Ledger", With(common, Accounts.Ledger("A").Environment, new()
        {
            ["Ledger__Id"] = "A", ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__SkipCommitFrom__0"] = "crashy",
        }), logs);
        LedgerB = new HostProcess("ledger-b", "Saga.Ledger", With(common, Accounts.Ledger("B").Environment, new()
        {
            ["Ledger__Id"] = "B", ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__FailTransientlyTo__0"] = "flaky",
            ["Ledger__FaultInjection__TransientFailures"] = "2", ["Ledger__FaultInjection__FailTransientlyTo__1"] = "stubborn:6",
            ["Ledger__CreditRedelivery__0"] = "00:00:01", ["Ledger__CreditRedelivery__1"] = "00:00:02",
        }), logs);
        await Task.WhenAll(Coordinator.Start(), LedgerA.Start(), LedgerB.Start());
        _logs = logs;

        _bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
        {
            h.Username(rabbit.Username);
            h.Password(rabbit.Password);
        }));
        await _bus.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _bus.StopAsync();
        await Task.WhenAll(_signed.Values.Select(b => b.StopAsync()));
        await Task.WhenAll(_extra.Append(Coordinator).Append(LedgerA).Append(LedgerB).Select(h => h.DisposeAsync().AsTask()));
        await DropDatabases(Accounts);
        using var http = Servers.RabbitMq().CreateManagementClient();
        await http.DeleteAsync($"api/vhosts/{_name}");
        Traces.Dispose();
    }

    /// <summary>Another instance of a running host, configured alike: a competing consumer on the same queues.</summary>
    public async Task<HostProcess> StartAnother(HostProcess like, string name)
    {
        var host = new HostProcess(name, like.Project, like.Environment, _logs);
        _extra.Add(host);
        await host.Start();
        return host;
    }

    /// <summary>Stops the instances <see cref="StartAnother"/> started, so later specs see one of each again.</summary>
    public async Task StopOthers()
    {
        await Task.WhenAll(_extra.Select(h => h.Stop()));
        _extra.Clear();
    }

    public IRequestClient<T> Client<T>(Uri destination) where T : class => _bus.CreateRequestClient<T>(destination, RequestTimeout.After(s: 30));

    public async Task Send<T>(Uri destination, T message) where T : class => await (await _bus.GetSendEndpoint(destination)).Send(message);

    /// <summary>Sends as the service <paramref name="account"/> would: connected as its broker user, and signed with it.</summary>
    public async Task SendAs<T>(ServiceAccount account, Uri destination, T message) where T : class
    {
        if (!_signed.TryGetValue(account.Service, out var bus))
        {
            var rabbit = Servers.RabbitMq(_name);
            bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
            {
                cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(account.BrokerUser);
                    h.Password(account.Password);
                });
                SignAs.Everything(cfg, account.BrokerUser);
            });
            await bus.StartAsync();
            _signed[account.Service] = bus;
        }
        await (await bus.GetSendEndpoint(destination)).Send(message);
    }

    /// <summary>The owner of every account the tests open, and the initiator of every transfer they submit.</summary>
    public const string Owner = "saga-tests";

    public async Task<AccountRef> OpenAccount(string ledger, string name, decimal balance)
    {
        var id = $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
        var response = await Client<OpenAccount>(Queues.LedgerAccountsAddress(ledger)).GetResponse<AccountOpened>(new OpenAccount(ledger, id, balance, Owner));
        Assert.True(response.Message.Created);
        return new AccountRef(ledger, id);
    }

    /// <summary>An account with a fixed id, which the ledgers' fault injection recognises.</summary>
    public async Task<AccountRef> OpenNamedAccount(string ledger, string id, decimal balance)
    {
        await Client<OpenAccount>(Queues.LedgerAccountsAddress(ledger)).GetResponse<AccountOpened, AccountOpenRejected>(new OpenAccount(ledger, id, balance, Owner));
        return new AccountRef(ledger, id);
    }

    public async Task<decimal?> Balance(AccountRef account)
    {
        var response = await Client<GetAccount>(Queues.LedgerAccountsAddress(account.Ledger))
            .GetResponse<AccountBalance, AccountNotFound>(new GetAccount(account.Ledger, account.AccountId));
        return response.Is(out Response<AccountBalance>? balance) ? balance.Message.Balance : null;
    }

    /// <summary>Submits a transfer as the Api does, by sending its half message to the coordinator.</summary>
    public Task Submit(Guid id, AccountRef from, AccountRef to, decimal amount) =>
        Send(Queues.HalfMessagesAddress, new StoreHalfMessage(id, from, to, amount, "EUR", Owner));

    public async Task<TransferStatus?> Status(Guid id)
    {
        var response = await Client<GetTransferStatus>(Queues.CoordinatorAddress).GetResponse<TransferStatus, TransferNotFound>(new GetTransferStatus(id));
        return response.Is(out Response<TransferStatus>? status) ? status.Message : null;
    }

    /// <summary>Waits until the transfer reaches <paramref name="state"/>; fails with the state it is stuck in.</summary>
    public Task<TransferStatus> UntilState(Guid id, string state, int seconds = 30) => UntilOneOf(id, [state], seconds);

    /// <summary>Waits until the transfer reaches one of <paramref name="states"/>; fails with the state it is stuck in.</summary>
    public Task<TransferStatus> UntilOneOf(Guid id, string[] states, int seconds = 30) =>
        UntilStatus(id, status => states.Contains(status.State), $"transfer {id} reached {string.Join(" or ", states)}", seconds);

    /// <summary>
    /// Waits until the transfer is Completed or RolledBack. Under load a slow producer can meet a
    /// check-back first: its tombstone rolls the transfer back, exactly, and that is a correct end too.
    /// </summary>
    public Task<TransferStatus> UntilFinal(Guid id, int seconds = 60) =>
        UntilStatus(id, status => status.State is TransferStates.Completed or TransferStates.RolledBack, $"transfer {id} ended", seconds);

    private async Task<TransferStatus> UntilStatus(Guid id, Func<TransferStatus, bool> done, string what, int seconds)
    {
        TransferStatus? last = null;
        var reached = await Eventually.Until(async () =>
        {
            try
            {
                return last = await Status(id);
            }
            catch (RequestTimeoutException)
            {
                return last; // the coordinator may be restarting
            }
        }, status => status is not null && done(status), what, TimeSpan.FromSeconds(seconds),
            status => status is null ? "not found" : $"{status.State} ({status.Reason})", every: TimeSpan.FromMilliseconds(50));
        return reached!;
    }

    /// <summary>The retries the confirmed credit reported, read from the transfer's stream.</summary>
    public async Task<int> CreditRetries(Guid id)
    {
        var builder = new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Database = _name };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select data from saga.mt_events where stream_id = $1 and type = 'credit_confirmed'", connection) { Parameters = { new() { Value = id } } };
        var json = (string)(await command.ExecuteScalarAsync())!;
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().Single(p => p.Name.Equals("retries", StringComparison.OrdinalIgnoreCase)).Value.GetInt32();
    }

    /// <summary>Stops a host's process without killing it (SIGSTOP), as a hung service would be; <see cref="Thaw"/> resumes it.</summary>
    public static Task Freeze(HostProcess host) => Signal(host, "-STOP");

    public static Task Thaw(HostProcess host) => Signal(host, "-CONT");

    private static async Task Signal(HostProcess host, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [signal, host.Pid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The types of the transfer's stored events, in order, as Marten names them (e.g. credit_copy_refused).</summary>
    public async Task<IReadOnlyList<string>> EventTypes(Guid id)
    {
        var builder = new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Database = _name };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select type from saga.mt_events where stream_id = $1 order by version", connection)
        {
            Parameters = { new() { Value = id } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        var types = new List<string>();
        while (await reader.ReadAsync())
        {
            types.Add(reader.GetString(0));
        }
        return types;
    }

    /// <summary>Waits until the transfer's stream holds an event of <paramref name="type"/>.</summary>
    public Task UntilEvent(Guid id, string type, int seconds = 30) =>
        Eventually.Until(() => EventTypes(id), types => types.Contains(type), $"transfer {id} recorded {type}", TimeSpan.FromSeconds(seconds),
            every: TimeSpan.FromMilliseconds(50));

    /// <summary>
    /// What an operator does with a shovel: moves the messages of <paramref name="errorQueue"/> that mention
    /// <paramref name="transferId"/> back to <paramref name="queue"/>, headers and body as they were. Returns how many.
    /// </summary>
    public async Task<int> MoveBack(string errorQueue, string queue, Guid transferId)
    {
        await using var connection = await Factory().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var moved = 0;
        var count = (await channel.QueueDeclarePassiveAsync(errorQueue)).MessageCount;
        for (var i = 0; i < count && await channel.BasicGetAsync(errorQueue, autoAck: false) is { } message; i++)
        {
            if (Encoding.UTF8.GetString(message.Body.Span).Contains(transferId.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                var properties = new BasicProperties(message.BasicProperties);
                await channel.BasicPublishAsync("", queue, mandatory: true, properties, message.Body);
                await channel.BasicAckAsync(message.DeliveryTag, multiple: false);
                moved++;
            }
            else
            {
                await channel.BasicNackAsync(message.DeliveryTag, multiple: false, requeue: true);
            }
        }
        return moved;
    }

    private ConnectionFactory Factory() => Servers.RabbitMq(_name).CreateConnectionFactory("tests: " + _name);

    /// <summary>Waits until <paramref name="queue"/> holds at least <paramref name="count"/> messages, for up to 30 s; returns how many it holds.</summary>
    public Task<uint> UntilMessagesIn(string queue, uint count) =>
        Eventually.Until(() => MessagesIn(queue), held => held >= count, $"{queue} held {count} messages", TimeSpan.FromSeconds(30),
            every: TimeSpan.FromMilliseconds(50));

    /// <summary>The messages ready in <paramref name="queue"/>; 0 while it does not exist (an error queue is made on its first message).</summary>
    public async Task<uint> MessagesIn(string queue)
    {
        await using var connection = await Factory().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }

    /// <summary>The services' accounts (infra/service-accounts.sh), as infra/up.sh creates them, with this run's databases.</summary>
    public ServiceAccounts Accounts { get; }

    private Task CreateVirtualHost() => CreateVirtualHost(_name, Accounts);

    /// <summary>A virtual host: everything for the administrator, for each service what infra/up.sh gives it.</summary>
    public static async Task CreateVirtualHost(string name, ServiceAccounts accounts)
    {
        var rabbit = Servers.RabbitMq();
        using var http = rabbit.CreateManagementClient();
        (await http.PutAsync($"api/vhosts/{name}", null)).EnsureSuccessStatusCode();
        (await http.PutAsJsonAsync($"api/permissions/{name}/{rabbit.Username}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        foreach (var account in accounts.All)
        {
            // Users belong to the broker, not to a virtual host: created once (infra/up.sh does it too), then left alone.
            if ((await http.GetAsync($"api/users/{account.BrokerUser}")).StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                (await http.PutAsJsonAsync($"api/users/{account.BrokerUser}", new { password = account.Password, tags = account.Tags })).EnsureSuccessStatusCode();
            }
            (await http.PutAsJsonAsync($"api/permissions/{name}/{account.BrokerUser}",
                new { configure = account.Configure, write = account.Write, read = account.Read })).EnsureSuccessStatusCode();
        }
    }

    /// <summary>
    /// Each service's database, on its server, with its schema owned by its role; the roles themselves (on
    /// every server) are infra/up.sh's.
    /// </summary>
    public static async Task CreateDatabases(ServiceAccounts accounts)
    {
        foreach (var (host, port, database) in accounts.Databases.Select(d => d.Key))
        {
            try
            {
                await using (var server = new NpgsqlConnection(OnServer(host, port, null)))
                {
                    await server.OpenAsync();
                    await using var create = new NpgsqlCommand($"create database {database}", server);
                    await create.ExecuteNonQueryAsync();
                }
                await using var connection = new NpgsqlConnection(OnServer(host, port, database));
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand(accounts.DatabaseSql(database), connection);
                await command.ExecuteNonQueryAsync();
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.InsufficientPrivilege)
            {
                throw new InvalidOperationException($"The services' database roles are missing on {host}:{port} or not granted to the administrator: run `bash infra/up.sh`. ({e.MessageText})", e);
            }
            catch (NpgsqlException e) when (e is not PostgresException)
            {
                throw new InvalidOperationException($"No PostgreSQL server on {host}:{port} for {database} (infra/config.sh places it there): run `bash infra/up.sh`. ({e.Message})", e);
            }
        }
    }

    public static async Task DropDatabases(ServiceAccounts accounts)
    {
        foreach (var (host, port, database) in accounts.Databases.Select(d => d.Key))
        {
            await using var connection = new NpgsqlConnection(OnServer(host, port, null));
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"drop database if exists {database} with (force)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The administrator on the server at <paramref name="host"/>:<paramref name="port"/>, in <paramref name="database"/> or the server's own.</summary>
    private static string OnServer(string host, int port, string? database) =>
        new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Host = host, Port = port, Database = database ?? "postgres" }.ConnectionString;

    private static Dictionary<string, string> With(Dictionary<string, string> common, Dictionary<string, string> account, Dictionary<string, string> own) =>
        common.Concat(account).Concat(own).ToDictionary(kv => kv.Key, kv => kv.Value);
}
