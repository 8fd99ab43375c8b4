using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Saga.Components.Hosting;

namespace Saga.Cli;

/// <summary>How many processes of each role: processes of one role compete on the same queues.</summary>
public sealed record Instances(int Coordinators = 1, int Ledgers = 1, int Apis = 1);

/// <summary>Where the hosts' broker is: the single node of infra/up.sh, or the three-node cluster of infra/cluster.sh.</summary>
public enum Broker { Single, Cluster }

/// <summary>
/// The servers (through infra/up.sh) and the hosts as local processes: coordinators, the instances of
/// each ledger (A and B unless told otherwise), and Apis, one of each unless told otherwise. Their
/// process ids go to .run/pids so infra/down.sh stops exactly these.
/// </summary>
public sealed class LocalSystem : IAsyncDisposable
{
    private readonly string _runDirectory;
    private readonly Lock _pidsLock = new();

    private LocalSystem(string root, Instances instances, Broker broker, IReadOnlyList<string> ledgers, Dictionary<string, string> coordinator,
        Dictionary<string, Dictionary<string, string>> ledgerSettings, Dictionary<string, string> api, int? apiPort)
    {
        Root = root;
        Broker = broker;
        LedgerIds = ledgers;
        _runDirectory = Path.Combine(root, ".run");
        var logs = Path.Combine(_runDirectory, "logs");
        if (Directory.Exists(logs))
        {
            Directory.Delete(logs, recursive: true); // each run's logs on their own
        }
        // Each host as its own service account, never as the administrator (README.md, "Service accounts"),
        // and an account for each of these ledgers, whatever Saga__Ledgers says.
        Accounts = ServiceAccounts.Read(root, ledgers: ledgers);
        Coordinators = Role("coordinator", "Saga.Coordinator", instances.Coordinators, As(Accounts.Coordinator, coordinator), logs);
        Ledgers = ledgers.ToDictionary(id => id, IReadOnlyList<HostProcess> (id) => Role("ledger-" + id.ToLowerInvariant(), "Saga.Ledger", instances.Ledgers,
            With(As(Accounts.Ledger(id), ledgerSettings.GetValueOrDefault(id) ?? []), "Ledger__Id", id), logs));
        // The Api accepts exactly these ledgers (its appsettings.json names A and B).
        var apiLedgers = ledgers.Select((id, i) => KeyValuePair.Create($"Api__Ledgers__{i}", id)).ToDictionary();
        Apis = Role("api", "Saga.Api", instances.Apis, As(Accounts.Api, apiLedgers.Concat(api).ToDictionary()), logs, apiPort);
        foreach (var host in Hosts)
        {
            host.Restarted += RecordPids;
        }
    }

    public string Root { get; }
    public Broker Broker { get; }
    public ServiceAccounts Accounts { get; }
    public IReadOnlyList<HostProcess> Coordinators { get; }

    /// <summary>The ledgers this system runs, in the order given.</summary>
    public IReadOnlyList<string> LedgerIds { get; }

    /// <summary>Each ledger's instances, by its id.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<HostProcess>> Ledgers { get; }

    public IReadOnlyList<HostProcess> LedgersA => Ledgers["A"];
    public IReadOnlyList<HostProcess> LedgersB => Ledgers["B"];
    public IReadOnlyList<HostProcess> Apis { get; }
    public HostProcess Coordinator => Coordinators[0];
    public HostProcess LedgerA => LedgersA[0];
    public HostProcess LedgerB => LedgersB[0];
    public HostProcess Api => Apis[0];
    public IReadOnlyList<HostProcess> Hosts => [.. Coordinators, .. LedgerIds.SelectMany(id => Ledgers[id]), .. Apis];

    // The same names and defaults as the hosts: the "Postgres" and "RabbitMq" sections, from the environment.
    // These are the administrator's, for the CLI's own tools (counters, the demo's look at the error queue).
    private static readonly IConfiguration Environment = new ConfigurationBuilder().AddEnvironmentVariables().Build();

    public PostgresOptions Postgres { get; } = Environment.GetSection(PostgresOptions.Section).Get<PostgresOptions>() ?? new();

    public RabbitMqOptions RabbitMq { get; private set; } = Environment.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new();

    /// <param name="ledgerA">Ledger A's own settings (the demo's and chaos's faults); <paramref name="ledgerB"/> B's.</param>
    /// <param name="ledgers">The ledgers to run; <see cref="Cli.LedgerIds.Default"/> (A, B) unless told.</param>
    /// <param name="apiPort">The first Api's port; a free one unless told (<c>up</c> gives a stable one).</param>
    public static LocalSystem Create(
        Dictionary<string, string>? coordinator = null, Dictionary<string, string>? ledgerA = null, Dictionary<string, string>? ledgerB = null,
        Dictionary<string, string>? api = null, Instances? instances = null, Broker broker = Broker.Single, IReadOnlyList<string>? ledgers = null,
        int? apiPort = null) =>
        new(FindRoot(), instances ?? new(), broker, ledgers ?? Cli.LedgerIds.Default, coordinator ?? [],
            new() { ["A"] = ledgerA ?? [], ["B"] = ledgerB ?? [] }, api ?? [], apiPort);

    /// <summary>infra/up.sh, then every host, waiting until each is ready.</summary>
    public async Task Start(Action<string> progress, CancellationToken cancellationToken = default)
    {
        if (Broker == Broker.Cluster)
        {
            progress("starting RabbitMQ (a three-node cluster) and PostgreSQL (infra/up.sh --cluster)");
            await Infra(["up.sh", "--cluster"], cancellationToken);
            // The hosts and the CLI's own tools connect to the cluster's nodes, with quorum queues.
            var settings = (await Infra(["cluster.sh", "env"], cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
            foreach (var host in Hosts)
            {
                foreach (var (key, value) in settings)
                {
                    host.Set(key, value);
                }
            }
            RabbitMq = new ConfigurationBuilder().AddEnvironmentVariables().AddInMemoryCollection(settings.Select(kv => new KeyValuePair<string, string?>(kv.Key.Replace("__", ":"), kv.Value)))
                .Build().GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new();
        }
        else
        {
            progress("starting RabbitMQ and PostgreSQL (infra/up.sh)");
            await Infra(["up.sh"], cancellationToken);
        }
        progress($"starting the coordinator and ledgers {Cli.LedgerIds.Listing(LedgerIds)}");
        await Task.WhenAll([Coordinator.Start(cancellationToken), .. LedgerIds.Select(id => Ledgers[id][0].Start(cancellationToken))]);
        // The first of each role has brought its schema up to date; the others join it, as a scale-out would.
        var others = Coordinators.Skip(1).Concat(LedgerIds.SelectMany(id => Ledgers[id].Skip(1))).ToList();
        if (others.Count > 0)
        {
            progress($"starting {string.Join(", ", others.Select(h => h.Name))}");
            await Task.WhenAll(others.Select(h => h.Start(cancellationToken)));
        }
        progress(Apis.Count == 1 ? "starting the Api" : $"starting {Apis.Count} Apis");
        await Task.WhenAll(Apis.Select(h => h.Start(cancellationToken)));
        RecordPids();
    }

    /// <summary>Runs a script of infra/ and returns what it printed; throws if it fails.</summary>
    internal async Task<string> Infra(string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(Root, "infra", arguments[0]), .. arguments[1..]])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        // An account and a database for each of this system's ledgers (infra/config.sh places them).
        start.Environment["Saga__Ledgers"] = string.Join(' ', LedgerIds);
        var script = Process.Start(start)!;
        // Both pipes at once: reading one to its end while the other fills would block the script.
        var stdout = script.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = script.StandardError.ReadToEndAsync(cancellationToken);
        var (output, errors) = (await stdout, await stderr);
        await script.WaitForExitAsync(cancellationToken);
        return script.ExitCode == 0 ? output : throw new InvalidOperationException($"infra/{string.Join(' ', arguments)} failed:\n{output}{errors}");
    }

    public Task Restart(HostProcess host, bool kill, CancellationToken cancellationToken = default) => Restart([host], kill, cancellationToken);

    /// <summary>Stops (or kills) every one of <paramref name="hosts"/> first, then starts them together.</summary>
    public async Task Restart(IReadOnlyList<HostProcess> hosts, bool kill, CancellationToken cancellationToken = default)
    {
        if (kill)
        {
            foreach (var host in hosts)
            {
                host.Kill();
            }
        }
        else
        {
            await Task.WhenAll(hosts.Select(h => h.Stop()));
        }
        await Task.WhenAll(hosts.Select(h => h.Start(cancellationToken)));
        RecordPids();
    }

    /// <summary>The coordinator's database (its view, its scheduler), as the administrator.</summary>
    public NpgsqlDataSource OpenDatabase() => OpenDatabase(Accounts.Coordinator);

    /// <summary>
    /// <paramref name="service"/>'s own database, on its own server, as the administrator: the CLI reads each
    /// service's tables on their own, as no query may span two services.
    /// </summary>
    public NpgsqlDataSource OpenDatabase(ServiceAccount service) => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Postgres.ConnectionString)
    {
        Host = service.DatabaseHost, Port = service.DatabasePort, Database = service.Database,
    }.ConnectionString);

    /// <summary>Every database the services use, each opened once as the administrator.</summary>
    public Databases OpenDatabases() => new(Accounts.Databases.ToDictionary(d => d.Key, d => OpenDatabase(d.First())), Accounts);

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Hosts.Select(h => h.DisposeAsync().AsTask()));
        File.Delete(Path.Combine(_runDirectory, "pids"));
    }

    // Also called from a supervisor's restart, beside a chaos restart.
    private void RecordPids()
    {
        lock (_pidsLock)
        {
            Directory.CreateDirectory(_runDirectory);
            File.WriteAllLines(Path.Combine(_runDirectory, "pids"), Hosts.Where(h => h.Pid is not null).Select(h => $"{h.Pid} {h.Name}"));
        }
    }

    private static HostProcess[] Role(string name, string project, int count, Dictionary<string, string> environment, string logs, int? firstPort = null) =>
        count < 1
            ? throw new ArgumentOutOfRangeException(nameof(count), $"at least one {name} is needed")
            : Enumerable.Range(1, count).Select(i => new HostProcess(count == 1 ? name : $"{name}-{i}", project, environment, logs, i == 1 ? firstPort : null)).ToArray();

    private static Dictionary<string, string> With(Dictionary<string, string> env, string key, string value) => new(env) { [key] = value };

    private static Dictionary<string, string> As(ServiceAccount account, Dictionary<string, string> env) =>
        account.Environment.Concat(env).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>The repository the CLI (or a test) runs from: where Saga.sln is.</summary>
    public static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Saga.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Run the CLI from the repository: `dotnet run -c Release --project src/Saga.Cli -- <verb>`.");
    }
}

/// <summary>The services' databases, each opened once as the administrator (<see cref="LocalSystem.OpenDatabases"/>).</summary>
public sealed class Databases(Dictionary<(string Host, int Port, string Database), NpgsqlDataSource> byDatabase, ServiceAccounts accounts) : IAsyncDisposable
{
    /// <summary>Each database with where it is.</summary>
    public IReadOnlyDictionary<(string Host, int Port, string Database), NpgsqlDataSource> All => byDatabase;

    public NpgsqlDataSource Coordinator => Of(accounts.Coordinator);

    public NpgsqlDataSource Ledger(string id) => Of(accounts.Ledger(id));

    private NpgsqlDataSource Of(ServiceAccount service) => byDatabase[(service.DatabaseHost, service.DatabasePort, service.Database)];

    public async ValueTask DisposeAsync()
    {
        foreach (var db in byDatabase.Values)
        {
            await db.DisposeAsync();
        }
    }
}
