using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Saga.Components.Hosting;

namespace Saga.Cli;

/// <summary>
/// The servers (through infra/up.sh) and the four hosts as local processes: coordinator, ledger A,
/// ledger B and the Api. Their process ids go to .run/pids so infra/down.sh stops exactly these.
/// </summary>
public sealed class LocalSystem : IAsyncDisposable
{
    private readonly string _runDirectory;
    private readonly Lock _pidsLock = new();

    private LocalSystem(string root, Dictionary<string, string> coordinator, Dictionary<string, string> ledgerA, Dictionary<string, string> ledgerB,
        Dictionary<string, string> api)
    {
        Root = root;
        _runDirectory = Path.Combine(root, ".run");
        var logs = Path.Combine(_runDirectory, "logs");
        if (Directory.Exists(logs))
        {
            Directory.Delete(logs, recursive: true); // each run's logs on their own
        }
        Coordinator = new HostProcess("coordinator", "Saga.Coordinator", coordinator, logs);
        LedgerA = new HostProcess("ledger-a", "Saga.Ledger", With(ledgerA, "Ledger__Id", "A"), logs);
        LedgerB = new HostProcess("ledger-b", "Saga.Ledger", With(ledgerB, "Ledger__Id", "B"), logs);
        Api = new HostProcess("api", "Saga.Api", api, logs);
        foreach (var host in Hosts)
        {
            host.Restarted += RecordPids;
        }
    }

    public string Root { get; }
    public HostProcess Coordinator { get; }
    public HostProcess LedgerA { get; }
    public HostProcess LedgerB { get; }
    public HostProcess Api { get; }
    public IReadOnlyList<HostProcess> Hosts => [Coordinator, LedgerA, LedgerB, Api];

    // The same names and defaults as the hosts: the "Postgres" and "RabbitMq" sections, from the environment.
    private static readonly IConfiguration Environment = new ConfigurationBuilder().AddEnvironmentVariables().Build();

    public PostgresOptions Postgres { get; } = Environment.GetSection(PostgresOptions.Section).Get<PostgresOptions>() ?? new();

    public RabbitMqOptions RabbitMq { get; } = Environment.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new();

    public static LocalSystem Create(
        Dictionary<string, string>? coordinator = null, Dictionary<string, string>? ledgerA = null, Dictionary<string, string>? ledgerB = null,
        Dictionary<string, string>? api = null) =>
        new(FindRoot(), coordinator ?? [], ledgerA ?? [], ledgerB ?? [], api ?? []);

    /// <summary>infra/up.sh, then every host, waiting until each is ready.</summary>
    public async Task Start(Action<string> progress, CancellationToken cancellationToken = default)
    {
        progress("starting RabbitMQ and PostgreSQL (infra/up.sh)");
        var up = Process.Start(new ProcessStartInfo("bash", [Path.Combine(Root, "infra", "up.sh")]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        // Both pipes at once: reading one to its end while the other fills would block up.sh.
        var stdout = up.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = up.StandardError.ReadToEndAsync(cancellationToken);
        var output = await stdout + await stderr;
        await up.WaitForExitAsync(cancellationToken);
        if (up.ExitCode != 0)
        {
            throw new InvalidOperationException($"infra/up.sh failed:\n{output}");
        }
        progress("starting the coordinator and ledgers A and B");
        await Task.WhenAll(Coordinator.Start(cancellationToken), LedgerA.Start(cancellationToken), LedgerB.Start(cancellationToken));
        progress("starting the Api");
        await Api.Start(cancellationToken);
        RecordPids();
    }

    public async Task Restart(HostProcess host, bool kill, CancellationToken cancellationToken = default)
    {
        if (kill)
        {
            host.Kill();
        }
        else
        {
            await host.Stop();
        }
        await host.Start(cancellationToken);
        RecordPids();
    }

    public NpgsqlDataSource OpenDatabase() => NpgsqlDataSource.Create(Postgres.ConnectionString);

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

    private static Dictionary<string, string> With(Dictionary<string, string> env, string key, string value) => new(env) { [key] = value };

    private static string FindRoot()
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
