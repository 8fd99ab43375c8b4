using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>The ledger's money rules on the real PostgreSQL, each test in a ledger schema of its own.</summary>
public sealed class LedgerDatabase_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;
    private LedgerDatabase _ledger = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        _dataSource = NpgsqlDataSource.Create(Servers.PostgresConnectionString);
        _ledger = new LedgerDatabase(_dataSource, Options.Create(new LedgerOptions { Id = _id }));
        await _ledger.Migrate();
        await _ledger.Migrate(); // twice changes nothing
    }

    public async Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        await using (var drop = _dataSource.CreateCommand($"drop schema if exists ledger_{_id} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }
        await _dataSource.DisposeAsync();
    }

    private ExecuteLocalTransaction Transfer(string from, decimal amount, Guid? id = null) =>
        new(id ?? Guid.NewGuid(), new AccountRef(_id, from), new AccountRef("B", "bob"), amount, "EUR", Initiator: from);

    [Fact]
    public async Task An_instance_starting_beside_a_busy_one_finds_the_schema_in_place_and_waits_on_no_lock()
    {
        await using var busy = await _dataSource.OpenConnectionAsync();
        await using var credit = await busy.BeginTransactionAsync();
        // What a running instance's credit holds until it commits; ALTER TABLE would wait for it, and deadlock with it.
        await using (var hold = new NpgsqlCommand($"lock table ledger_{_id}.accounts, ledger_{_id}.credits in row exclusive mode", busy, credit))
        {
            await hold.ExecuteNonQueryAsync();
        }

        await using var another = new LedgerDatabase(_dataSource, Options.Create(new LedgerOptions { Id = _id }));
        await another.Migrate().WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Opening_an_account_twice_is_idempotent_and_reports_the_first_opening_balance_and_owner()
    {
        Assert.Equal(new(100m, 100m, "alice", true), await _ledger.Open("alice", 100m, "alice", default));
        Assert.Equal(new(100m, 100m, "alice", false), await _ledger.Open("alice", 100m, "alice", default));
        Assert.Equal(new(100m, 100m, "alice", false), await _ledger.Open("alice", 999m, "mallory", default));
    }

    [Fact]
    public async Task The_local_transaction_debits_and_records_committed_or_records_the_rollback_with_its_reason()
    {
        await _ledger.Open("alice", 150m, "alice", default);

        var committed = await _ledger.RunLocalTransaction(Transfer("alice", 100m), default);
        var poor = await _ledger.RunLocalTransaction(Transfer("alice", 100m), default);
        var unknown = await _ledger.RunLocalTransaction(Transfer("nobody", 1m), default);

        Assert.Equal(LocalTransactionOutcome.Committed, committed.Outcome);
        Assert.Equal((LocalTransactionOutcome.RolledBack, "insufficient funds"), (poor.Outcome, poor.Reason));
        Assert.Equal((LocalTransactionOutcome.RolledBack, "unknown account"), (unknown.Outcome, unknown.Reason));
        Assert.Equal(50m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task Only_the_owner_debits_an_account_and_anyone_else_gets_the_answer_an_unknown_account_gets()
    {
        await _ledger.Open("alice", 100m, "alice", default);

        var stranger = await _ledger.RunLocalTransaction(Transfer("alice", 40m) with { Initiator = "mallory" }, default);
        var unsigned = await _ledger.RunLocalTransaction(Transfer("alice", 40m) with { Initiator = null }, default);
        var owner = await _ledger.RunLocalTransaction(Transfer("alice", 40m), default);

        Assert.Equal((LocalTransactionOutcome.RolledBack, "unknown account"), (stranger.Outcome, stranger.Reason));
        Assert.Equal((LocalTransactionOutcome.RolledBack, "unknown account"), (unsigned.Outcome, unsigned.Reason));
        Assert.Equal(LocalTransactionOutcome.Committed, owner.Outcome);
        Assert.Equal(60m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task An_account_opened_before_owners_were_kept_cannot_be_debited_by_anyone()
    {
        await _ledger.Open("legacy", 100m, "legacy", default);
        await using (var clear = _dataSource.CreateCommand($"update ledger_{_id}.accounts set owner = null where account_id = 'legacy'"))
        {
            await clear.ExecuteNonQueryAsync();
        }

        var attempt = await _ledger.RunLocalTransaction(Transfer("legacy", 10m), default);

        Assert.Equal((LocalTransactionOutcome.RolledBack, "unknown account"), (attempt.Outcome, attempt.Reason));
        Assert.Equal(100m, await _ledger.Balance("legacy", default));
    }

    [Fact]
    public async Task The_same_transfer_twice_debits_once()
    {
        await _ledger.Open("alice", 500m, "alice", default);
        var transfer = Transfer("alice", 100m);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _ledger.RunLocalTransaction(transfer, default)));

        Assert.All(outcomes, o => Assert.Equal(LocalTransactionOutcome.Committed, o.Outcome));
        Assert.Equal(400m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task Concurrent_transfers_from_one_account_never_lose_an_update_nor_go_negative()
    {
        await _ledger.Open("alice", 300m, "alice", default);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => _ledger.RunLocalTransaction(Transfer("alice", 10m), default))));
        var credits = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => _ledger.Credit(Guid.NewGuid(), CreditPurpose.Transfer, "alice", 1m, default))));

        Assert.Equal(30, outcomes.Count(o => o.Outcome == LocalTransactionOutcome.Committed));
        Assert.All(credits, c => Assert.Equal(CreditOutcome.Applied, c));
        Assert.Equal(20m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task A_credit_applies_once_per_transfer_and_purpose_however_often_it_arrives()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        var id = Guid.NewGuid();

        var applied = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => _ledger.Credit(id, CreditPurpose.Transfer, "bob", 100m, default))));
        var refund = await _ledger.Credit(id, CreditPurpose.Refund, "bob", 100m, default);

        Assert.Equal(1, applied.Count(a => a == CreditOutcome.Applied));
        Assert.Equal(9, applied.Count(a => a == CreditOutcome.AppliedBefore));
        Assert.Equal(CreditOutcome.Applied, refund);
        Assert.Equal(200m, await _ledger.Balance("bob", default));
    }

    [Fact]
    public async Task A_credit_to_an_unknown_account_fails_for_good_and_records_nothing()
    {
        var id = Guid.NewGuid();

        await Assert.ThrowsAsync<UnknownAccountException>(() => _ledger.Credit(id, CreditPurpose.Transfer, "nobody", 5m, default));

        await _ledger.Open("nobody", 0m, "nobody", default);
        Assert.Equal(CreditOutcome.Applied, await _ledger.Credit(id, CreditPurpose.Transfer, "nobody", 5m, default)); // nothing was recorded before
    }

    [Fact]
    public async Task A_void_first_refuses_every_later_copy_of_the_credit_and_moves_no_money()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        var id = Guid.NewGuid();

        Assert.True(await _ledger.Void(id, "bob", 100m, default));
        Assert.True(await _ledger.Void(id, "bob", 100m, default)); // a repeat gives the same answer

        Assert.Equal(CreditOutcome.Voided, await _ledger.Credit(id, CreditPurpose.Transfer, "bob", 100m, default));
        Assert.Equal(CreditOutcome.Voided, await _ledger.Credit(id, CreditPurpose.Transfer, "bob", 100m, default));
        Assert.Equal(0m, await _ledger.Balance("bob", default));
    }

    [Fact]
    public async Task A_credit_first_makes_the_void_answer_credited_and_is_not_undone()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        var id = Guid.NewGuid();
        await _ledger.Credit(id, CreditPurpose.Transfer, "bob", 100m, default);

        Assert.False(await _ledger.Void(id, "bob", 100m, default));
        Assert.Equal(CreditOutcome.AppliedBefore, await _ledger.Credit(id, CreditPurpose.Transfer, "bob", 100m, default));
        Assert.Equal(100m, await _ledger.Balance("bob", default));
    }

    [Fact]
    public async Task A_void_holds_for_an_account_that_did_not_exist_yet()
    {
        var id = Guid.NewGuid();
        Assert.True(await _ledger.Void(id, "late", 5m, default));

        await _ledger.Open("late", 0m, "late", default);

        Assert.Equal(CreditOutcome.Voided, await _ledger.Credit(id, CreditPurpose.Transfer, "late", 5m, default));
        Assert.Equal(0m, await _ledger.Balance("late", default));
    }

    [Fact]
    public async Task Voids_and_credits_racing_from_many_connections_agree_on_one_outcome_per_transfer()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        var transfers = Enumerable.Range(0, 40).Select(_ => Guid.NewGuid()).ToList();

        // For each transfer, five credits and five voids at once, as several consumers of the queue would run them.
        var results = await Task.WhenAll(transfers.Select(async id =>
        {
            var credits = Enumerable.Range(0, 5).Select(_ => Task.Run(() => _ledger.Credit(id, CreditPurpose.Transfer, "bob", 1m, default))).ToList();
            var voids = Enumerable.Range(0, 5).Select(_ => Task.Run(() => _ledger.Void(id, "bob", 1m, default))).ToList();
            return (Credits: await Task.WhenAll(credits), Voids: await Task.WhenAll(voids));
        }));

        var creditedTransfers = 0;
        foreach (var (credits, voids) in results)
        {
            var credited = credits.Count(c => c == CreditOutcome.Applied);
            Assert.True(credited <= 1);
            if (credited == 1)
            {
                creditedTransfers++;
                Assert.All(voids, Assert.False);
                Assert.DoesNotContain(CreditOutcome.Voided, credits);
            }
            else
            {
                Assert.All(voids, Assert.True);
                Assert.All(credits, c => Assert.Equal(CreditOutcome.Voided, c));
            }
        }
        Assert.Equal(creditedTransfers, await _ledger.Balance("bob", default));
    }

    [Fact]
    public async Task A_check_back_finds_the_recorded_outcome_and_never_runs_the_local_transaction()
    {
        await _ledger.Open("alice", 100m, "alice", default);
        var transfer = Transfer("alice", 60m);
        await _ledger.RunLocalTransaction(transfer, default);

        var answer = await _ledger.CheckBack(transfer.TransferId, default);
        await _ledger.CheckBack(transfer.TransferId, default);

        Assert.Equal(LocalTransactionOutcome.Committed, answer.Outcome);
        Assert.Equal(40m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task A_check_back_with_no_record_writes_a_tombstone_and_a_late_local_transaction_cannot_commit()
    {
        await _ledger.Open("alice", 100m, "alice", default);
        var transfer = Transfer("alice", 60m);

        var answer = await _ledger.CheckBack(transfer.TransferId, default);
        var late = await _ledger.RunLocalTransaction(transfer, default);

        Assert.Equal(LocalTransactionOutcome.RolledBack, answer.Outcome);
        Assert.Equal(LocalTransactionOutcome.RolledBack, late.Outcome);
        Assert.Equal(100m, await _ledger.Balance("alice", default));
    }

    [Theory]
    [InlineData(true, LocalTransactionOutcome.Committed)]
    [InlineData(false, LocalTransactionOutcome.RolledBack)]
    public async Task A_check_back_racing_a_local_transaction_in_flight_waits_for_it_and_answers_its_outcome(bool commits, LocalTransactionOutcome expected)
    {
        var id = Guid.NewGuid();
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var inFlight = await connection.BeginTransactionAsync();
        await using (var record = new NpgsqlCommand(
                         $"insert into ledger_{_id}.local_transactions (transfer_id, outcome) values ($1, 'committed')", connection, inFlight))
        {
            record.Parameters.Add(new() { Value = id });
            await record.ExecuteNonQueryAsync();
        }

        var checkBack = _ledger.CheckBack(id, default);
        await WaitUntilBlocked();
        Assert.False(checkBack.IsCompleted);
        if (commits)
        {
            await inFlight.CommitAsync();
        }
        else
        {
            await inFlight.RollbackAsync();
        }

        Assert.Equal(expected, (await checkBack).Outcome);
    }

    [Fact]
    public async Task A_broken_database_connection_is_an_error_never_an_answer()
    {
        var unreachable = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Port = 1, Timeout = 2 }.ConnectionString);
        var ledger = new LedgerDatabase(unreachable, Options.Create(new LedgerOptions { Id = _id }));

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ledger.CheckBack(Guid.NewGuid(), default));
    }

    /// <summary>Waits until some session of this database waits on a lock (the check-back's insert).</summary>
    private Task WaitUntilBlocked() => Eventually.Until(async () =>
    {
        await using var probe = _dataSource.CreateCommand(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%local_transactions%'");
        return (long)(await probe.ExecuteScalarAsync())! > 0;
    }, "the check-back waited on the local transaction in flight", TimeSpan.FromSeconds(30));
}
