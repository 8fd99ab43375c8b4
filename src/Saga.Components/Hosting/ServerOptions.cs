using System.Net.Http.Headers;
using System.Text;
using Npgsql;
using RabbitMQ.Client;

namespace Saga.Components.Hosting;

/// <summary>Configuration section "RabbitMq"; the defaults are the local servers of infra/up.sh.</summary>
public sealed class RabbitMqOptions
{
    public const string Section = "RabbitMq";

    public string Host { get; set; } = "127.0.0.1";
    public ushort Port { get; set; } = 5672;
    public int ManagementPort { get; set; } = 15672;
    public string VirtualHost { get; set; } = "saga";
    public string Username { get; set; } = "saga";
    public string Password { get; set; } = "saga";

    /// <summary>
    /// Messages each endpoint takes at once. Consumers on the transfer path wait on round trips (the
    /// producer waits for the half message's acknowledgement), so a small figure caps throughput: the
    /// default of MassTransit held the whole system near 130 transfers/s here.
    /// </summary>
    public int PrefetchCount { get; set; } = 256;

    /// <summary>
    /// The nodes of a RabbitMQ cluster, "host:port" separated by commas (infra/cluster.sh prints them); every
    /// connection tries them in turn and moves to the next when one is lost. Unset: <see cref="Host"/> and <see cref="Port"/>.
    /// </summary>
    public string? Nodes { get; set; }

    /// <summary>Declare every endpoint's queue a quorum queue: worth it on a cluster of three or more nodes.</summary>
    public bool QuorumQueues { get; set; }

    public IReadOnlyList<string> ClusterNodes =>
        Nodes?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } nodes ? nodes : [$"{Host}:{Port}"];

    /// <summary>
    /// The arguments every endpoint's queue is declared with, by MassTransit (its error and skipped queues copy
    /// them), by its senders (<see cref="DestinationQueues"/>) and by the ledger (<see cref="Ledgers.LedgerQueueDeclaration"/>):
    /// the broker refuses a second declaration that differs. A quorum queue is replicated to every node of the
    /// cluster (RabbitMQ's default group size: three here, so it takes two to accept a message), and has no delivery limit:
    /// MassTransit moves what a consumer fails on to the error queue itself, so only a message that crashes its
    /// host comes back again and again, and that is better seen than dropped or dead-lettered away.
    /// </summary>
    public Dictionary<string, object?>? QueueArguments() => QuorumQueues ? new() { ["x-queue-type"] = "quorum" } : null;

    /// <summary>
    /// Every endpoint goes through here: its queue a quorum queue when <see cref="QuorumQueues"/> says so, and
    /// what it cannot handle moved unsigned (<see cref="MoveUnsigned"/>).
    /// </summary>
    public void ConfigureEndpoint(MassTransit.IReceiveEndpointConfigurator endpoint)
    {
        if (endpoint is not MassTransit.IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            return;
        }
        if (QueueArguments() is { } arguments)
        {
            foreach (var (name, value) in arguments)
            {
                rabbit.SetQueueArgument(name, value);
            }
        }
        MoveUnsigned.Configure(rabbit);
    }

    /// <summary>A connection of our own to the first node of <see cref="ClusterNodes"/> that answers.</summary>
    public Task<IConnection> Connect(string clientName, CancellationToken cancellationToken = default, bool automaticRecovery = true)
    {
        var factory = CreateConnectionFactory(clientName);
        factory.AutomaticRecoveryEnabled = automaticRecovery;
        return factory.CreateConnectionAsync(ClusterNodes.Select(AmqpTcpEndpoint.Parse).ToList(), cancellationToken);
    }

    /// <summary>
    /// A connection of our own beside MassTransit's (the watchdog, the CLI, the tests), to this broker
    /// and virtual host; <paramref name="clientName"/> names it on the broker's connection list.
    /// </summary>
    public ConnectionFactory CreateConnectionFactory(string clientName) => new()
    {
        HostName = Host, Port = Port, VirtualHost = VirtualHost, UserName = Username, Password = Password, ClientProvidedName = clientName,
    };

    /// <summary>A cluster's management APIs, <c>host:port</c> by commas, tried in turn by <see cref="CreateManagementClients"/>; unset: <see cref="Host"/>:<see cref="ManagementPort"/>.</summary>
    public string? ManagementNodes { get; set; }

    /// <summary>One management client per node of <see cref="ManagementNodes"/>, for a reader that must go on while a node is down.</summary>
    public IReadOnlyList<HttpClient> CreateManagementClients() =>
        (ManagementNodes?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } nodes ? nodes : [$"{Host}:{ManagementPort}"])
        .Select(node => CreateManagementClient(node)).ToList();

    /// <summary>The broker's management HTTP API (paths such as <c>api/queues/{vhost}</c>), authenticated as <see cref="Username"/>.</summary>
    public HttpClient CreateManagementClient() => CreateManagementClient($"{Host}:{ManagementPort}");

    private HttpClient CreateManagementClient(string node)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://{node}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")));
        return http;
    }
}

/// <summary>Configuration section "Postgres"; the defaults are the local servers of infra/up.sh.</summary>
public sealed class PostgresOptions
{
    public const string Section = "Postgres";

    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 5432;
    public string Database { get; set; } = "saga";
    public string Username { get; set; } = "saga";
    public string Password { get; set; } = "saga";
    public int MaxPoolSize { get; set; } = 64;

    /// <summary>TLS to PostgreSQL: Disable on loopback (it cost a third of the database path's CPU here); Require across a network.</summary>
    public SslMode SslMode { get; set; } = SslMode.Disable;

    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Database = Database,
        Username = Username,
        Password = Password,
        MaxPoolSize = MaxPoolSize,
        SslMode = SslMode,
        // Statements on the transfer path are few and repeated: let Npgsql prepare them once per connection.
        MaxAutoPrepare = 32,
        AutoPrepareMinUsages = 2,
        // Nothing here changes session state, so a pooled connection needs no reset: profiling showed the
        // reset (RESET ALL; UNLISTEN ...) as half of all statements PostgreSQL ran for a transfer.
        NoResetOnClose = true,
    }.ConnectionString;
}
