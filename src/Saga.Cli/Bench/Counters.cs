using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Saga.Cli;

/// <summary>What the servers themselves count: RabbitMQ's published messages, PostgreSQL's transactions and WAL flushes, CPU per process.</summary>
public sealed record Counters(long Published, long Commits, long WalFlushes, long OwnQueries, Dictionary<string, double> Cpu)
{
    private static long _ownQueries;

    /// <summary>The bench's own queries are transactions too; they are taken out of the count.</summary>
    public static void CountOwnQuery() => Interlocked.Increment(ref _ownQueries);

    /// <summary>PostgreSQL's figures summed over every database the services use: commits per database, WAL flushes per server.</summary>
    public static async Task<Counters> Read(LocalSystem system, Databases databases, CancellationToken cancellationToken)
    {
        var vhost = await Management<JsonElement>(system, $"api/vhosts/{Uri.EscapeDataString(system.RabbitMq.VirtualHost)}", cancellationToken);
        var published = vhost.TryGetProperty("message_stats", out var stats) && stats.TryGetProperty("publish", out var p) ? p.GetInt64() : 0;

        long commits = 0, walFlushes = 0;
        var servers = new HashSet<(string, int)>();
        foreach (var ((host, port, _), db) in databases.All)
        {
            // A database idle through the load keeps pooled connections that a server restart (chaos) broke.
            db.Clear();
            await using var command = db.CreateCommand(
                "select xact_commit, (select wal_sync from pg_stat_wal) from pg_stat_database where datname = current_database()");
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            commits += reader.GetInt64(0);
            walFlushes += servers.Add((host, port)) ? reader.GetInt64(1) : 0; // the server's WAL, once however many databases it holds
            CountOwnQuery();
        }

        var cpu = system.Hosts.ToDictionary(h => h.Name, h => h.CpuSeconds());
        cpu["rabbitmq"] = ProcessesNamed("beam.smp");
        cpu["postgresql"] = ProcessesNamed("postgres");
        using var self = Process.GetCurrentProcess();
        cpu["bench (client)"] = self.TotalProcessorTime.TotalSeconds;
        return new Counters(published, commits, walFlushes, Interlocked.Read(ref _ownQueries), cpu);
    }

    /// <summary>Every queue of the vhost with its consumers and messages: what a failed chaos run prints to show where messages stopped.</summary>
    public static async Task<IReadOnlyList<(string Name, long Consumers, long Ready, long Unacked)>> Queues(LocalSystem system, CancellationToken cancellationToken)
    {
        var queues = await Management<JsonElement>(system,
            $"api/queues/{Uri.EscapeDataString(system.RabbitMq.VirtualHost)}?columns=name,consumers,messages_ready,messages_unacknowledged", cancellationToken);
        long Field(JsonElement q, string name) => q.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        return queues.EnumerateArray()
            .Select(q => (q.GetProperty("name").GetString()!, Field(q, "consumers"), Field(q, "messages_ready"), Field(q, "messages_unacknowledged")))
            .ToList();
    }

    /// <summary>Asks each node's management API in turn: on a cluster, one node may be down or paused.</summary>
    private static async Task<T> Management<T>(LocalSystem system, string path, CancellationToken cancellationToken)
    {
        var clients = system.RabbitMq.CreateManagementClients();
        try
        {
            for (var i = 0; ; i++)
            {
                try
                {
                    return (await clients[i].GetFromJsonAsync<T>(path, cancellationToken))!;
                }
                catch (HttpRequestException) when (i + 1 < clients.Count)
                {
                }
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>CPU of every process with this command name: read only, for the report.</summary>
    private static double ProcessesNamed(string comm)
    {
        double total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == comm)
                    {
                        total += ProcCpu.Seconds(pid);
                    }
                }
                catch (IOException)
                {
                }
            }
        }
        return total;
    }
}
