using System.Diagnostics;
using System.Globalization;

namespace Saga.Cli;

/// <summary>
/// One service's own broker user and database role (infra/service-accounts.sh), the broker permissions it gets,
/// and its own database: <see cref="Database"/> on the PostgreSQL server at <see cref="DatabaseHost"/>:<see cref="DatabasePort"/>.
/// </summary>
public sealed record ServiceAccount(string Service, string BrokerUser, string DatabaseRole, string Password, string Tags,
    string Configure, string Write, string Read, string DatabaseHost, int DatabasePort, string Database)
{
    /// <summary>The host's configuration for running as this account rather than as the administrator, in its own database.</summary>
    public Dictionary<string, string> Environment => new()
    {
        ["RabbitMq__Username"] = BrokerUser, ["RabbitMq__Password"] = Password,
        ["Postgres__Username"] = DatabaseRole, ["Postgres__Password"] = Password,
        ["Postgres__Host"] = DatabaseHost, ["Postgres__Port"] = DatabasePort.ToString(CultureInfo.InvariantCulture), ["Postgres__Database"] = Database,
    };
}

/// <summary>
/// The services' accounts as infra/service-accounts.sh defines them, with the passwords of this environment:
/// the one definition infra/up.sh, the CLI and the tests share.
/// </summary>
public sealed class ServiceAccounts
{
    private readonly string _script;
    private readonly string? _database;
    private readonly IReadOnlyList<string>? _ledgers;

    private ServiceAccounts(string root, IReadOnlyList<ServiceAccount> accounts, string? database, IReadOnlyList<string>? ledgers)
    {
        _script = Path.Combine(root, "infra", "service-accounts.sh");
        _database = database;
        _ledgers = ledgers;
        All = accounts;
    }

    public IReadOnlyList<ServiceAccount> All { get; }

    public ServiceAccount Coordinator => this["coordinator"];
    public ServiceAccount Api => this["api"];
    public ServiceAccount Ledger(string id) => this["ledger-" + id.ToLowerInvariant()];

    public ServiceAccount this[string service] =>
        All.SingleOrDefault(a => a.Service == service) ?? throw new InvalidOperationException($"infra/service-accounts.sh defines no account for '{service}' (see Saga__Ledgers)");

    /// <summary>The databases the services use, each once, with the services in it.</summary>
    public IReadOnlyList<IGrouping<(string Host, int Port, string Database), ServiceAccount>> Databases =>
        All.GroupBy(a => (a.DatabaseHost, a.DatabasePort, a.Database)).ToList();

    /// <summary>
    /// The accounts of this environment; with <paramref name="database"/>, as if Postgres__Database were it (the
    /// coordinator's database, which names the ledgers' too): a test run's databases of its own. With
    /// <paramref name="ledgers"/>, as if Saga__Ledgers named them: a system of other ledgers than infra/config.sh's.
    /// </summary>
    public static ServiceAccounts Read(string root, string? database = null, IReadOnlyList<string>? ledgers = null)
    {
        var script = Path.Combine(root, "infra", "service-accounts.sh");
        var accounts = Run(script, ["accounts"], database, ledgers).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t') switch
        {
            [var service, var user, var role, var password, var tags, var configure, var write, var read, var host, var port, var db]
                when int.TryParse(port, CultureInfo.InvariantCulture, out var number) =>
                new ServiceAccount(service, user, role, password, tags == "-" ? "" : tags, configure, write, read, host, number, db),
            _ => throw new InvalidOperationException($"infra/service-accounts.sh accounts: unexpected line '{line}'"),
        }).ToList();
        return new ServiceAccounts(root, accounts, database, ledgers);
    }

    /// <summary>The SQL that gives each service whose database <paramref name="database"/> is its schema there, run as the database's owner.</summary>
    public string DatabaseSql(string database) => Run(_script, ["database-sql", database], _database, _ledgers);

    private static string Run(string script, string[] arguments, string? database, IReadOnlyList<string>? ledgers)
    {
        var start = new ProcessStartInfo("bash", [script, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (database is not null)
        {
            start.Environment["Postgres__Database"] = database;
        }
        if (ledgers is not null)
        {
            start.Environment["Saga__Ledgers"] = string.Join(' ', ledgers);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{script} {string.Join(' ', arguments)} failed: {error.Result}");
    }
}
