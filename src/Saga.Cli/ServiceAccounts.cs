using System.Diagnostics;

namespace Saga.Cli;

/// <summary>One service's own broker user and database role (infra/service-accounts.sh), and the broker permissions it gets.</summary>
public sealed record ServiceAccount(string Service, string BrokerUser, string DatabaseRole, string Password, string Tags,
    string Configure, string Write, string Read)
{
    /// <summary>The host's configuration for running as this account rather than as the administrator.</summary>
    public Dictionary<string, string> Environment => new()
    {
        ["RabbitMq__Username"] = BrokerUser, ["RabbitMq__Password"] = Password,
        ["Postgres__Username"] = DatabaseRole, ["Postgres__Password"] = Password,
    };
}

/// <summary>
/// The services' accounts as infra/service-accounts.sh defines them, with the passwords of this environment:
/// the one definition infra/up.sh, the CLI and the tests share.
/// </summary>
public sealed class ServiceAccounts
{
    private readonly string _script;

    private ServiceAccounts(string root, IReadOnlyList<ServiceAccount> accounts)
    {
        _script = Path.Combine(root, "infra", "service-accounts.sh");
        All = accounts;
    }

    public IReadOnlyList<ServiceAccount> All { get; }

    public ServiceAccount Coordinator => this["coordinator"];
    public ServiceAccount Api => this["api"];
    public ServiceAccount Ledger(string id) => this["ledger-" + id.ToLowerInvariant()];

    public ServiceAccount this[string service] =>
        All.SingleOrDefault(a => a.Service == service) ?? throw new InvalidOperationException($"infra/service-accounts.sh defines no account for '{service}' (see Saga__Ledgers)");

    public static ServiceAccounts Read(string root)
    {
        var script = Path.Combine(root, "infra", "service-accounts.sh");
        var accounts = Run(script, "accounts").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t') switch
        {
            [var service, var user, var role, var password, var tags, var configure, var write, var read] =>
                new ServiceAccount(service, user, role, password, tags == "-" ? "" : tags, configure, write, read),
            _ => throw new InvalidOperationException($"infra/service-accounts.sh accounts: unexpected line '{line}'"),
        }).ToList();
        return new ServiceAccounts(root, accounts);
    }

    /// <summary>The SQL that gives each service its schema in <paramref name="database"/>, run as the database's owner.</summary>
    public string DatabaseSql(string database) => Run(_script, "database-sql", database);

    private static string Run(string script, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [script, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{script} {string.Join(' ', arguments)} failed: {error.Result}");
    }
}
