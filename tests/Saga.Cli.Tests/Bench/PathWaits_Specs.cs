using Figure = (string Host, string Figure, string Of);

namespace Saga.Cli.Tests.Bench;

/// <summary>
/// A run's waits from two readings of the hosts' histograms: what the run added is the later reading less
/// the earlier one, for the figures' sums and counts and for each cumulative bucket.
/// </summary>
public sealed class PathWaits_Specs
{
    private static readonly Figure Debit = ("ledger-a", "delivery", "ExecuteLocalTransaction");

    [Fact]
    public void The_mean_wait_is_what_the_run_added_to_the_sum_over_what_it_added_to_the_count()
    {
        var before = Reading(pid: 7, (Debit, 100.0, 10));
        var after = Reading(pid: 7, (Debit, 400.0, 70));

        var wait = Assert.Single(PathWaits.Between(before, after));

        Assert.Equal(("ledger-a", "delivery", "ExecuteLocalTransaction"), (wait.Host, wait.Figure, wait.Of));
        Assert.Equal(5.0, wait.Mean);
        Assert.Equal(60, wait.Count);
    }

    [Fact]
    public void A_figure_first_recorded_during_the_run_counts_from_nothing()
    {
        var wait = Assert.Single(PathWaits.Between(Reading(pid: 7), Reading(pid: 7, (Debit, 30.0, 10))));

        Assert.Equal((3.0, 10L), (wait.Mean, wait.Count));
    }

    [Fact]
    public void A_figure_the_run_added_nothing_to_is_left_out()
    {
        Assert.Empty(PathWaits.Between(Reading(pid: 7, (Debit, 100.0, 10)), Reading(pid: 7, (Debit, 100.0, 10))));
    }

    [Fact]
    public void A_host_restarted_during_the_run_or_not_read_before_it_is_left_out()
    {
        var after = Reading(pid: 8, (Debit, 30.0, 10));

        Assert.Empty(PathWaits.Between(Reading(pid: 7), after));
        Assert.Empty(PathWaits.Between(new([], [], []), after));
    }

    [Fact]
    public void The_p99_bound_is_the_least_bucket_bound_under_which_99_percent_of_the_runs_values_fell()
    {
        var before = Reading(pid: 7, (Debit, 0.0, 0));
        var after = Reading(pid: 7, (Debit, 250.0, 100)) with { Buckets = new() { [Debit] = Cumulative((1, 50), (2, 98), (5, 99), (10, 100)) } };

        Assert.Equal(5.0, Assert.Single(PathWaits.Between(before, after)).P99Under);
    }

    [Fact]
    public void The_p99_bound_counts_only_what_the_run_added_to_each_bucket()
    {
        // Before the run every value fell under 1; the run's own all fell between 2 and 5.
        var before = Reading(pid: 7, (Debit, 500.0, 1000)) with { Buckets = new() { [Debit] = Cumulative((1, 1000), (2, 1000), (5, 1000)) } };
        var after = Reading(pid: 7, (Debit, 800.0, 1100)) with { Buckets = new() { [Debit] = Cumulative((1, 1000), (2, 1000), (5, 1100)) } };

        Assert.Equal(5.0, Assert.Single(PathWaits.Between(before, after)).P99Under);
    }

    [Fact]
    public void A_tail_past_the_last_bound_has_no_p99_bound()
    {
        var before = Reading(pid: 7);
        var after = Reading(pid: 7, (Debit, 9000.0, 100)) with { Buckets = new() { [Debit] = Cumulative((1, 90), (5000, 98)) } };

        Assert.Null(Assert.Single(PathWaits.Between(before, after)).P99Under);
    }

    [Fact]
    public void Waits_are_listed_by_host_then_figure_then_most_counted_first()
    {
        Figure credit = ("ledger-b", "delivery", "CreditAccount"), commit = ("ledger-a", "wait", "ledger"), check = ("ledger-a", "delivery", "CheckLocalTransaction");
        var after = Reading(pid: 7, (credit, 1.0, 1), (commit, 1.0, 5), (check, 1.0, 2), (Debit, 1.0, 9));

        var waits = PathWaits.Between(Reading(pid: 7), after);

        Assert.Equal([Debit, check, commit, credit], waits.Select(w => (w.Host, w.Figure, w.Of)));
    }

    [Fact]
    public void A_hosts_row_gives_each_messages_delivery_and_each_writers_commit_wait_with_its_items_per_transaction()
    {
        PathWait[] waits =
        [
            new("ledger-a", "delivery", "ExecuteLocalTransaction", 2.04, 10, P99Under: 7.5),
            new("ledger-a", "wait", "ledger", 1.5, 10, P99Under: 3),
            new("ledger-a", "size", "ledger", 4, 3),
        ];

        var row = Assert.Single(PathWaits.Describe(waits));

        Assert.Equal(("ledger-a", "delivered in ExecuteLocalTransaction 2.0 (p99 ≤ 7.5) ms; committed in ledger 1.5 (p99 ≤ 3; 4.0 per transaction) ms"), row);
    }

    [Fact]
    public void A_hosts_metrics_text_is_read_for_the_three_histograms_by_part_message_or_writer_and_bucket_bound()
    {
        // As OpenTelemetry's Prometheus exporter writes it: scope labels first, le last, a timestamp after the value.
        const string text = """
            # TYPE saga_message_delivery_milliseconds histogram
            # UNIT saga_message_delivery_milliseconds milliseconds
            saga_message_delivery_milliseconds_bucket{otel_scope_name="Saga.Transfers",message="ExecuteLocalTransaction",le="0.5"} 3 1764900000000
            saga_message_delivery_milliseconds_bucket{otel_scope_name="Saga.Transfers",message="ExecuteLocalTransaction",le="+Inf"} 10 1764900000000
            saga_message_delivery_milliseconds_sum{otel_scope_name="Saga.Transfers",message="ExecuteLocalTransaction"} 20.5 1764900000000
            saga_message_delivery_milliseconds_count{otel_scope_name="Saga.Transfers",message="ExecuteLocalTransaction"} 10 1764900000000
            saga_commit_wait_milliseconds_sum{otel_scope_name="Saga.Transfers",writer="ledger"} 1.5E-05 1764900000000
            saga_commit_size_bucket{otel_scope_name="Saga.Transfers",writer="ledger",le="1"} 2 1764900000000
            saga_commit_size_count{otel_scope_name="Saga.Transfers",writer="ledger"} 4 1764900000000
            saga_commit_conflicts_total{otel_scope_name="Saga.Transfers",message="CreditAccount"} 1 1764900000000
            saga_transfer_duration_seconds_count{otel_scope_name="Saga.Transfers"} 5 1764900000000
            """;

        var read = PathWaits.Line().Matches(text).Select(m => string.Join(' ', new[] { "figure", "part", "of", "le", "value" }.Select(g => m.Groups[g].Value)));

        Assert.Equal(
        [
            "delivery bucket ExecuteLocalTransaction 0.5 3",
            "delivery bucket ExecuteLocalTransaction +Inf 10",
            "delivery sum ExecuteLocalTransaction  20.5",
            "delivery count ExecuteLocalTransaction  10",
            "wait sum ledger  1.5E-05",
            "size bucket ledger 1 2",
            "size count ledger  4",
        ], read);
    }

    /// <summary>Both ledgers' histograms as read from processes <paramref name="pid"/>, without buckets.</summary>
    private static PathWaits.Snapshot Reading(int pid, params (Figure Key, double Sum, long Count)[] figures) =>
        new(figures.ToDictionary(f => f.Key, f => (f.Sum, f.Count)), [], new() { ["ledger-a"] = pid, ["ledger-b"] = pid });

    private static SortedDictionary<double, long> Cumulative(params (double Bound, long Count)[] buckets) =>
        new(buckets.ToDictionary(b => b.Bound, b => b.Count));
}
