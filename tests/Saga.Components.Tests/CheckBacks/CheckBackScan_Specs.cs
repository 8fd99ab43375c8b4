using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;
using Saga.Components.CheckBacks;
using Saga.Components.Hosting;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Tests.Transfers;
using Saga.Components.Transfers;
using Saga.Contracts;
using Saga.Testing;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.CheckBacks;

public sealed class CheckBackScan_Specs : IAsyncLifetime
{
    // A schema per test: the scan sees every transfer in its schema.
    private readonly PostgresSchema _schema = new();

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    [Fact]
    public async Task A_transfer_in_flight_stored_by_the_older_version_is_found_by_the_scan_after_the_upgrade()
    {
        await using var s = await Start(_schema);
        var id = await s.Prepare();
        var done = await s.Committed();
        await s.Send(new AccountCredited(done, Bob, 100m));
        await s.InState(done, s.Machine.Completed);
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        // As the version before the rename stored it: the due time under its old name, nothing in the new column.
        await using (var older = new NpgsqlCommand($"""
            update {_schema.Name}.mt_doc_transfer
            set data = (data - 'ScanDueAt') || jsonb_build_object('NextCheckBackAt', data -> 'ScanDueAt'), scan_due_at = null
            where id = $1
            """, connection))
        {
            older.Parameters.Add(new() { Value = id });
            Assert.Equal(1, await older.ExecuteNonQueryAsync());
        }
        Assert.Equal(0, await s.CheckBackDueScan(s.Options.CheckBackTimeout + TimeSpan.FromSeconds(1)));

        var scan = s.Services.GetRequiredService<CheckBackScan>();
        Assert.Equal(1, await scan.UpgradeStoredDueTimes(connection));
        Assert.Equal(0, await scan.UpgradeStoredDueTimes(connection)); // once done, nothing to do

        Assert.Equal(1, await s.CheckBackDueScan(TimeSpan.Zero));
        Assert.Equal(1, (await s.CheckSent(id, 1)).Attempt);
    }

    [Fact]
    public async Task While_the_coordinators_queue_is_over_its_backlog_the_scan_sends_nothing_and_then_what_is_due()
    {
        await using var s = await Start(_schema);
        var id = await s.Prepare();
        var queue = "scan-backlog-" + Guid.NewGuid().ToString("N")[..8];
        var rabbit = Servers.RabbitMq();
        await using var connection = await rabbit.Connect("tests: scan backlog");
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: true);
        using var backlog = new QueueBacklog(queue, limit: 1, Options.Create(rabbit), NullLogger<QueueBacklog>.Instance, TimeProvider.System);
        await backlog.StartAsync(default);
        await channel.BasicPublishAsync("", queue, new byte[] { 1 });
        await channel.BasicPublishAsync("", queue, new byte[] { 2 }); // answers the coordinator has not read yet
        await Eventually.Until(() => Task.FromResult(backlog.IsOver), over => over, "the backlog was seen", TimeSpan.FromSeconds(30));
        var scan = new CheckBackScan(s.Store, s.Harness.Bus, s.Clock, Options.Create(new CheckBackScanOptions()), backlog);
        s.Clock.Advance(s.Options.CheckBackTimeout + TimeSpan.FromSeconds(1));

        Assert.Equal(0, await scan.RunOnce());

        await channel.BasicGetAsync(queue, autoAck: true);
        await Eventually.Until(() => Task.FromResult(backlog.IsOver), over => !over, "the backlog was worked off", TimeSpan.FromSeconds(30));
        Assert.Equal(1, await scan.RunOnce());
        Assert.Equal(1, (await s.CheckSent(id, 1)).Attempt);
        await backlog.StopAsync(default);
    }

    [Fact]
    public async Task Nothing_due_sends_nothing()
    {
        await using var s = await Start(_schema);
        var id = await s.Prepare();

        Assert.Equal(0, await s.CheckBackDueScan(s.Options.CheckBackTimeout - TimeSpan.FromSeconds(1)));
        Assert.Empty(s.ChecksSent(id));
    }

    [Fact]
    public async Task A_prompt_commit_leaves_nothing_for_the_scan()
    {
        await using var s = await Start(_schema);
        var id = await s.Committed();

        Assert.Equal(0, await s.CheckBackDueScan(s.Options.CreditResendTimeout - TimeSpan.FromSeconds(1)));
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        Assert.Equal(0, await s.CheckBackDueScan(TimeSpan.FromDays(1)));
        Assert.Null((await s.Load(id))!.ScanDueAt);
        Assert.Empty(s.ChecksSent(id));
    }

    [Fact]
    public async Task A_credit_never_confirmed_is_sent_again_when_overdue_and_only_then()
    {
        await using var s = await Start(_schema);
        var id = await s.Committed();

        Assert.Equal(1, await s.CheckBackDueScan(s.Options.CreditResendTimeout));
        await s.Until(id, e => e.OfType<CreditRequested>().Count() == 2, "credit requested again");
        await s.Send(new CheckBackDue(id, 1)); // a repeated scan message: the credit is no longer overdue
        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "repeat recorded");

        var credits = await s.UntilCreditsSent(id, 2);
        Assert.Equal(2, credits.Count);
        Assert.Single(credits.Distinct()); // the same idempotent credit
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);
    }

    [Fact]
    public async Task An_unconfirmed_credit_waits_twice_as_long_each_time_and_needs_attention_after_the_last_send()
    {
        await using var s = await Start(_schema, configure: o => o.MaxCreditSends = 3);
        var id = await s.Committed();
        var wait = s.Options.CreditResendTimeout;

        Assert.Equal(1, await s.CheckBackDueScan(wait));
        await s.Until(id, e => e.OfType<CreditRequested>().Count() == 2, "second send");
        Assert.Equal(0, await s.CheckBackDueScan(2 * wait - TimeSpan.FromSeconds(1)));
        Assert.Equal(1, await s.CheckBackDueScan(TimeSpan.FromSeconds(1)));
        await s.Until(id, e => e.OfType<CreditRequested>().Count() == 3, "third send");
        Assert.Equal(3, (await s.UntilCreditsSent(id, 3)).Count);

        Assert.Equal(1, await s.CheckBackDueScan(4 * wait));
        await s.InState(id, s.Machine.NeedsAttention);
        Assert.Contains("not confirmed after 3 sends", (await s.Load(id))!.Reason);
        Assert.Equal(3, s.CreditsSent(id).Count);

        await s.Send(new AccountCredited(id, Bob, 100m)); // a queued copy applied once the ledger is back
        await s.InState(id, s.Machine.Completed);
    }

    [Fact]
    public async Task Due_transfers_are_found_in_batches_and_each_is_checked_once()
    {
        await using var s = await Start(_schema, scanBatchSize: 2);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await s.Prepare());
            s.Clock.Advance(TimeSpan.FromMilliseconds(1)); // distinct due times, and one tie below
        }
        ids.Add(await s.Prepare());
        var committed = await s.Committed();

        Assert.Equal(6, await s.CheckBackDueScan(s.Options.CheckBackTimeout));

        foreach (var id in ids)
        {
            Assert.Equal(new CheckLocalTransaction(id, 1, Alice), await s.CheckSent(id, 1));
        }
        Assert.Empty(s.ChecksSent(committed));
    }

    [Fact]
    public async Task Two_scans_at_once_ask_the_producer_once()
    {
        await using var s = await Start(_schema);
        var id = await s.Prepare();
        s.Clock.Advance(s.Options.CheckBackTimeout);
        var scan = s.Services.GetService(typeof(Components.CheckBacks.CheckBackScan)) as Components.CheckBacks.CheckBackScan;

        // The second scan may read before or after the saga handled the first one's message: either way, one effect.
        var sent = await Task.WhenAll(scan!.RunOnce(), scan.RunOnce());
        Assert.Equal(1, sent.Max());
        await s.Until(id, e => e.OfType<CheckBackSent>().Count() + e.OfType<MessageIgnored>().Count() == sent.Sum(), "every check-back message handled");
        await s.CheckSent(id, 1); // sent once the winner's events are committed

        Assert.Single(s.ChecksSent(id));
        Assert.Equal(1, (await s.Load(id))!.CheckBacks);
    }

    [Fact]
    public async Task The_scan_query_uses_the_due_time_index()
    {
        await using var s = await Start(_schema);
        await s.Prepare();
        var now = s.Clock.GetUtcNow();

        await using var session = s.Store.QuerySession();
        var command = session.Query<TransferState>()
            .Where(x => x.ScanDueAt >= DateTimeOffset.MinValue && x.ScanDueAt <= now)
            .OrderBy(x => x.ScanDueAt).Take(500).ToCommand();
        await using var connection = new Npgsql.NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        // A small table would be read whole; forbidding that shows whether the index can serve filter and order.
        await using (var off = new Npgsql.NpgsqlCommand("set enable_seqscan = off; set enable_bitmapscan = off; set enable_sort = off", connection)) { await off.ExecuteNonQueryAsync(); }
        await using var explain = new Npgsql.NpgsqlCommand("explain " + command.CommandText, connection);
        foreach (Npgsql.NpgsqlParameter p in command.Parameters) { explain.Parameters.Add(new Npgsql.NpgsqlParameter(p.ParameterName, p.Value)); }
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) { plan.Add(reader.GetString(0)); }
        }

        Assert.Contains(plan, line => line.Contains("scan_due_at", StringComparison.Ordinal) && line.Contains("Index", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("Sort", StringComparison.Ordinal));
    }
}
