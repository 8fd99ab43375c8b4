using System.Diagnostics;

namespace Saga.Cli;

/// <summary>
/// The three RabbitMQ nodes of infra/cluster.sh, for chaos --cluster: kill -9 one and start it again, cut one
/// off from the others' Erlang distribution and mend it, and which node leads each queue.
/// </summary>
public sealed class BrokerNodes(LocalSystem system)
{
    public const int Count = 3;

    public static string Name(int node) => $"saga-{node}";

    public Task Kill(int node, CancellationToken cancellationToken) => Cluster(["node", $"{node}", "kill"], cancellationToken);

    public Task Start(int node, CancellationToken cancellationToken) => Cluster(["node", $"{node}", "start"], cancellationToken);

    public Task Partition(int node, CancellationToken cancellationToken) => Cluster(["node", $"{node}", "partition"], cancellationToken);

    public Task Heal(int node, CancellationToken cancellationToken) => Cluster(["node", $"{node}", "heal"], cancellationToken);

    /// <summary>Waits until every node runs and sees all the others: a healed minority unpauses by itself.</summary>
    public async Task<bool> AllRunning(TimeSpan within, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < within)
        {
            try
            {
                var lines = (await Cluster(["status"], cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (lines.Length == Count && lines.All(l => l.Contains(" running ", StringComparison.Ordinal) && l.Split(' ').Count(w => w.StartsWith("saga-", StringComparison.Ordinal)) == Count + 1))
                {
                    return true;
                }
            }
            catch (InvalidOperationException)
            {
            }
            await Task.Delay(1000, cancellationToken);
        }
        return false;
    }

    /// <summary>Each queue of the vhost with its leader (the node of a classic queue) and members, as a running node sees them.</summary>
    public async Task<IReadOnlyList<(string Queue, string Type, string Leader, string Members)>> Leaders(CancellationToken cancellationToken) =>
        (await Cluster(["leaders"], cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(f => f.Length >= 3)
            .Select(f => (f[0], f[1], Short(f[2]), f.Length > 3 ? Short(f[3]) : ""))
            .OrderBy(q => q.Item1, StringComparer.Ordinal)
            .ToList();

    /// <summary>One line: each node with the queues it leads, for the fault log.</summary>
    public async Task<string> LeadersInOneLine(IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        try
        {
            var wanted = queues.ToHashSet();
            return string.Join("; ", (await Leaders(cancellationToken)).Where(q => wanted.Contains(q.Queue))
                .GroupBy(q => q.Leader).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} leads {string.Join(", ", g.Select(q => q.Queue))}"));
        }
        catch (InvalidOperationException e)
        {
            return $"leaders unknown ({e.Message.Split('\n')[0]})";
        }
    }

    // saga-1@vm → saga-1; a members list "[saga-1@vm, saga-3@vm]" → "saga-1 saga-3", sorted.
    private static string Short(string nodes) =>
        string.Join(' ', nodes.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.Split('@')[0]).Order(StringComparer.Ordinal));

    private Task<string> Cluster(string[] arguments, CancellationToken cancellationToken) => system.Infra(["cluster.sh", .. arguments], cancellationToken);
}
