using System.Globalization;
using System.Text.RegularExpressions;

namespace Saga.Cli;

/// <summary>
/// What one host's histograms (PathMetrics) said over a run: a mean, how many it counted, and the bucket bound
/// that 99 % of them stayed under (null above the last bound): where a run's tail comes from, hop by hop.
/// </summary>
public sealed record PathWait(string Host, string Figure, string Of, double Mean, long Count, double? P99Under = null);

/// <summary>
/// Where the transfers of a run waited, host by host: each host's own histograms on /metrics
/// (saga.message.delivery by message, saga.commit.wait and saga.commit.size by writer), read before and
/// after the run. A host restarted meanwhile (chaos) counted afresh: its figures are left out, known by
/// its process id.
/// </summary>
public static partial class PathWaits
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public sealed record Snapshot(
        Dictionary<(string Host, string Figure, string Of), (double Sum, long Count)> Figures,
        Dictionary<(string Host, string Figure, string Of), SortedDictionary<double, long>> Buckets,
        Dictionary<string, int> Pids);

    public static async Task<Snapshot> Read(LocalSystem system, CancellationToken cancellationToken)
    {
        var figures = new Dictionary<(string, string, string), (double, long)>();
        var buckets = new Dictionary<(string, string, string), SortedDictionary<double, long>>();
        var pids = new Dictionary<string, int>();
        foreach (var host in system.Hosts)
        {
            if (host.Pid is not { } pid)
            {
                continue;
            }
            string text;
            try
            {
                text = await Http.GetStringAsync($"{host.BaseAddress}/metrics", cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                continue; // a host restarting (chaos): this run says nothing of it
            }
            pids[host.Name] = pid; // only a host read both times is compared
            foreach (Match m in Line().Matches(text))
            {
                var key = (host.Name, m.Groups["figure"].Value, m.Groups["of"].Value);
                var value = double.Parse(m.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
                var (sum, count) = figures.GetValueOrDefault(key);
                switch (m.Groups["part"].Value)
                {
                    case "sum":
                        figures[key] = (value, count);
                        break;
                    case "count":
                        figures[key] = (sum, (long)value);
                        break;
                    // +Inf is no bound: a tail past the last one is reported as none.
                    case "bucket" when double.TryParse(m.Groups["le"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var bound):
                        (buckets.TryGetValue(key, out var b) ? b : buckets[key] = [])[bound] = (long)value;
                        break;
                }
            }
        }
        return new Snapshot(figures, buckets, pids);
    }

    public static IReadOnlyList<PathWait> Between(Snapshot before, Snapshot after) =>
        after.Figures
            .Select(f => (f.Key, After: f.Value, Before: before.Figures.GetValueOrDefault(f.Key)))
            .Where(f => before.Pids.TryGetValue(f.Key.Host, out var pid) && after.Pids.GetValueOrDefault(f.Key.Host) == pid && f.After.Count > f.Before.Count)
            .Select(f => new PathWait(f.Key.Host, f.Key.Figure, f.Key.Of, (f.After.Sum - f.Before.Sum) / (f.After.Count - f.Before.Count), f.After.Count - f.Before.Count,
                P99Under(before.Buckets.GetValueOrDefault(f.Key), after.Buckets.GetValueOrDefault(f.Key), f.After.Count - f.Before.Count)))
            .OrderBy(w => w.Host, StringComparer.Ordinal).ThenBy(w => w.Figure, StringComparer.Ordinal).ThenByDescending(w => w.Count)
            .ToList();

    /// <summary>The least bucket bound under which 99 % of the run's <paramref name="count"/> values fell (cumulative buckets, after less before).</summary>
    private static double? P99Under(SortedDictionary<double, long>? before, SortedDictionary<double, long>? after, long count)
    {
        if (after is null || count <= 0)
        {
            return null;
        }
        foreach (var (bound, cumulative) in after)
        {
            if (cumulative - (before?.GetValueOrDefault(bound) ?? 0) >= 0.99 * count)
            {
                return bound;
            }
        }
        return null;
    }

    /// <summary>One row per host: mean delivery per message, mean commit wait and items per transaction per writer.</summary>
    public static IEnumerable<(string Host, string Text)> Describe(IReadOnlyList<PathWait> waits) =>
        waits.GroupBy(w => w.Host).Select(host =>
        {
            var delivery = host.Where(w => w.Figure == "delivery").Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Of} {w.Mean:0.0}{Aside(Tail(w))}"));
            var commits = host.Where(w => w.Figure == "wait").Select(w =>
            {
                var size = host.FirstOrDefault(s => s.Figure == "size" && s.Of == w.Of);
                var perTransaction = size is null ? null : string.Create(CultureInfo.InvariantCulture, $"{size.Mean:0.0} per transaction");
                return string.Create(CultureInfo.InvariantCulture, $"{w.Of} {w.Mean:0.0}{Aside(Tail(w), perTransaction)}");
            });
            var parts = new List<string>();
            if (delivery.Any())
            {
                parts.Add($"delivered in {string.Join(", ", delivery)} ms");
            }
            if (commits.Any())
            {
                parts.Add($"committed in {string.Join(", ", commits)} ms");
            }
            return (host.Key, string.Join("; ", parts));
        });

    private static string? Tail(PathWait w) =>
        w.P99Under is { } under ? string.Create(CultureInfo.InvariantCulture, $"p99 ≤ {under:0.#}") : null;

    private static string Aside(params string?[] notes) =>
        notes.Where(n => n is not null).ToList() is { Count: > 0 } given ? $" ({string.Join("; ", given)})" : "";

    // OpenTelemetry's Prometheus names: the unit ms becomes _milliseconds, {item} is dropped.
    [GeneratedRegex("""^saga_(?:message_(?<figure>delivery)|commit_(?<figure>wait|size))(?:_milliseconds)?_(?<part>sum|count|bucket)\{[^}]*?(?:message|writer)="(?<of>[^"]+)"(?:[^}]*?le="(?<le>[^"]+)")?[^}]*\} (?<value>\S+)""", RegexOptions.Multiline)]
    internal static partial Regex Line();
}
