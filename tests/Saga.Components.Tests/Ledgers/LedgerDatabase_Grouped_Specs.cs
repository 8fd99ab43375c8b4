using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>
/// The ledger's money rules when operations share a transaction (group commit), on the real PostgreSQL,
/// each test in a ledger schema of its own. To put operations in one batch for certain, a test holds a
/// lock on the accounts from a connection of its own: the first batch waits on it, and whatever is
/// submitted meanwhile is queued and forms the next batch.
/// </summary>
public sealed class LedgerDatabase_Grouped_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;
    private LedgerDatabase _ledger = null!;

    private string Schema => $"ledger_{_id}";

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        _dataSource = NpgsqlDataSource.Create(Servers.PostgresConnectionString);
        _ledger = NewInstance();
        await _ledger.Migrate();
    }

    public async Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        await using (var drop = _dataSource.CreateCommand($"drop schema if exists {Schema} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }
        await _dataSource.DisposeAsync();
    }

    private LedgerDatabase NewInstance() => new(_dataSource, Options.Create(new LedgerOptions { Id = _id }));

    private ExecuteLocalTransaction Transfer(string from, decimal amount, Guid? id = null) =>
        new(id ?? Guid.NewGuid(), new AccountRef(_id, from), new AccountRef("B", "bob"), amount, "EUR", Initiator: from);

    [Fact]
    public async Task Debits_of_one_account_in_one_batch_each_see_the_others_and_never_overdraw()
    {
        await _ledger.Open("alice", 100m, "alice", default);
        var first = Transfer("alice", 10m);
        var batched = new[] { 30m, 50m, 40m, 5m, 70m, 20m, 15m }.Select(a => Transfer("alice", a)).ToList();

        var runs = await InOneBatch(["alice"], () => _ledger.RunLocalTransaction(first, default),
            batched.Select(t => (Func<Task<LocalTransaction>>)(() => _ledger.RunLocalTransaction(t, default))));

        var outcomes = runs.Skip(1).ToList();
        Assert.Contains(outcomes, o => o.Outcome == LocalTransactionOutcome.Committed);
        Assert.Contains(outcomes, o => o.Outcome == LocalTransactionOutcome.RolledBack);
        await AssertDebitsExact("alice", 100m, [first, .. batched], runs);
    }

    [Fact]
    public async Task In_one_batch_a_stranger_debits_nothing_and_takes_no_share_of_the_owners_balance()
    {
        await _ledger.Open("alice", 100m, "alice", default);
        var first = Transfer("alice", 10m);
        // The stranger's debits are the smaller: in amount order they would come first and leave the owner's 90 without cover.
        var strangers = new[] { 30m, 60m }.Select(a => Transfer("alice", a) with { Initiator = "mallory" }).ToList();
        var owners = Transfer("alice", 90m);
        var unsigned = Transfer("alice", 1m) with { Initiator = null };

        var runs = await InOneBatch(["alice"], () => _ledger.RunLocalTransaction(first, default),
            strangers.Append(owners).Append(unsigned).Select(t => (Func<Task<LocalTransaction>>)(() => _ledger.RunLocalTransaction(t, default))));

        Assert.All(new[] { runs[1], runs[2], runs[4] }, o => Assert.Equal((LocalTransactionOutcome.RolledBack, "unknown account"), (o.Outcome, o.Reason)));
        Assert.Equal(LocalTransactionOutcome.Committed, runs[3].Outcome);
        Assert.Equal(0m, await _ledger.Balance("alice", default));
    }

    [Fact]
    public async Task Many_concurrent_debits_of_one_account_move_each_committed_amount_once_and_refuse_only_what_no_longer_fits()
    {
        await _ledger.Open("alice", 1000m, "alice", default);
        var transfers = Enumerable.Range(0, 120).Select(i => Transfer("alice", i % 37 + 1m)).ToList(); // about twice the balance

        var outcomes = await Task.WhenAll(transfers.Select(t => Task.Run(() => _ledger.RunLocalTransaction(t, default))));

        Assert.Contains(outcomes, o => o.Reason == "insufficient funds");
        await AssertDebitsExact("alice", 1000m, transfers, outcomes);
    }

    [Fact]
    public async Task The_same_transfer_many_times_in_one_batch_debits_once_and_all_get_its_outcome()
    {
        await _ledger.Open("alice", 500m, "alice", default);
        var first = Transfer("alice", 10m);
        var repeated = Transfer("alice", 100m);
        var other = Transfer("alice", 50m);
        var batched = Enumerable.Repeat(repeated, 10).Append(other).ToList();

        var runs = await InOneBatch(["alice"], () => _ledger.RunLocalTransaction(first, default),
            batched.Select(t => (Func<Task<LocalTransaction>>)(() => _ledger.RunLocalTransaction(t, default))));

        Assert.All(runs, o => Assert.Equal(LocalTransactionOutcome.Committed, o.Outcome));
        Assert.Equal(340m, await _ledger.Balance("alice", default));
        await AssertDebitsExact("alice", 500m, [first, .. batched], runs);
    }

    [Fact]
    public async Task The_same_transfer_submitted_concurrently_from_two_instances_debits_once()
    {
        await _ledger.Open("alice", 1000m, "alice", default);
        await using var other = NewInstance();
        var transfers = Enumerable.Range(0, 30).Select(_ => Transfer("alice", 7m)).ToList();

        // Every transfer eight times: four copies to each instance, as redeliveries to two consumers would come.
        var runs = await Task.WhenAll(transfers.SelectMany(t => Enumerable.Range(0, 8).Select(i =>
            Task.Run(async () => (Transfer: t, Outcome: await (i % 2 == 0 ? _ledger : other).RunLocalTransaction(t, default))))));

        Assert.All(runs, r => Assert.Equal(LocalTransactionOutcome.Committed, r.Outcome.Outcome));
        Assert.Equal(1000m - 30 * 7m, await _ledger.Balance("alice", default));
        await AssertDebitsExact("alice", 1000m, [.. runs.Select(r => r.Transfer)], [.. runs.Select(r => r.Outcome)]);
    }

    [Fact]
    public async Task Credits_in_one_batch_apply_once_per_key_sum_per_account_and_an_unknown_account_fails_alone()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        await _ledger.Open("carol", 0m, "carol", default);
        var (k1, k2, k3, unknown) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var batched = new List<Func<Task<CreditOutcome>>>
        {
            () => _ledger.Credit(k1, CreditPurpose.Transfer, "bob", 10m, default),
            () => _ledger.Credit(k1, CreditPurpose.Transfer, "bob", 10m, default),
            () => _ledger.Credit(unknown, CreditPurpose.Transfer, "nobody", 3m, default),
            () => _ledger.Credit(k1, CreditPurpose.Refund, "bob", 20m, default),
            () => _ledger.Credit(k2, CreditPurpose.Transfer, "bob", 5m, default),
            () => _ledger.Credit(k1, CreditPurpose.Transfer, "bob", 10m, default),
            () => _ledger.Credit(k3, CreditPurpose.Transfer, "carol", 7m, default),
        };

        var first = Guid.NewGuid();
        var started = StartInOneBatch(["bob", "carol"], () => _ledger.Credit(first, CreditPurpose.Transfer, "bob", 1m, default), batched);
        var all = await started;

        await Assert.ThrowsAsync<UnknownAccountException>(() => all[3]);
        var outcomes = await Task.WhenAll(all.Where((_, i) => i != 3));
        // first; k1 ×2; k1 refund; k2; k1; k3
        Assert.Equal(CreditOutcome.Applied, outcomes[0]);
        Assert.Equal(1, new[] { outcomes[1], outcomes[2], outcomes[5] }.Count(o => o == CreditOutcome.Applied));
        Assert.Equal(2, new[] { outcomes[1], outcomes[2], outcomes[5] }.Count(o => o == CreditOutcome.AppliedBefore));
        Assert.Equal([CreditOutcome.Applied, CreditOutcome.Applied, CreditOutcome.Applied], new[] { outcomes[3], outcomes[4], outcomes[6] });
        Assert.Equal(1m + 10m + 20m + 5m, await _ledger.Balance("bob", default));
        Assert.Equal(7m, await _ledger.Balance("carol", default));

        await _ledger.Open("nobody", 0m, "nobody", default);
        Assert.Equal(CreditOutcome.Applied, await _ledger.Credit(unknown, CreditPurpose.Transfer, "nobody", 3m, default)); // nothing was recorded before
    }

    [Fact]
    public async Task Concurrent_credits_with_repeats_and_unknown_accounts_apply_each_key_once_and_fail_only_the_unknown()
    {
        await _ledger.Open("bob", 0m, "bob", default);
        await _ledger.Open("carol", 0m, "carol", default);
        var keys = Enumerable.Range(0, 40).Select(i => (Id: Guid.NewGuid(), Account: i % 2 == 0 ? "bob" : "carol", Amount: i + 1m)).ToList();
        var unknown = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToList();

        var credits = keys.SelectMany(k => Enumerable.Range(0, 3).Select(_ =>
            Task.Run(async () => (k.Id, Outcome: await _ledger.Credit(k.Id, CreditPurpose.Transfer, k.Account, k.Amount, default))))).ToList();
        var failing = unknown.Select(id => Task.Run(() => _ledger.Credit(id, CreditPurpose.Transfer, "nobody", 1m, default))).ToList();

        var outcomes = await Task.WhenAll(credits);
        foreach (var task in failing)
        {
            await Assert.ThrowsAsync<UnknownAccountException>(() => task);
        }
        foreach (var key in keys)
        {
            var of = outcomes.Where(o => o.Id == key.Id).Select(o => o.Outcome).ToList();
            Assert.Equal(1, of.Count(o => o == CreditOutcome.Applied));
            Assert.Equal(2, of.Count(o => o == CreditOutcome.AppliedBefore));
        }
        Assert.Equal(keys.Where(k => k.Account == "bob").Sum(k => k.Amount), await _ledger.Balance("bob", default));
        Assert.Equal(keys.Where(k => k.Account == "carol").Sum(k => k.Amount), await _ledger.Balance("carol", default));
        await using var recorded = _dataSource.CreateCommand($"select count(*) from {Schema}.credits where account_id = 'nobody'");
        Assert.Equal(0L, await recorded.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData(true, CreditOutcome.Voided)]
    [InlineData(false, CreditOutcome.Applied)]
    public async Task A_credit_batched_with_others_waits_for_a_void_in_flight_and_only_it_takes_the_void_outcome(bool voidCommits, CreditOutcome expected)
    {
        await _ledger.Open("bob", 0m, "bob", default);
        var (raced, other) = (Guid.NewGuid(), Guid.NewGuid());
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var voiding = await connection.BeginTransactionAsync();
        await using (var record = new NpgsqlCommand(
                         $"insert into {Schema}.credits (transfer_id, purpose, account_id, amount, voided_at) values ($1, $2, 'bob', 5, now())", connection, voiding))
        {
            record.Parameters.Add(new() { Value = raced });
            record.Parameters.Add(new() { Value = (short)CreditPurpose.Transfer });
            await record.ExecuteNonQueryAsync();
        }

        var all = await StartInOneBatch(["bob"], () => _ledger.Credit(Guid.NewGuid(), CreditPurpose.Transfer, "bob", 1m, default),
        [
            () => _ledger.Credit(raced, CreditPurpose.Transfer, "bob", 5m, default),
            () => _ledger.Credit(other, CreditPurpose.Transfer, "bob", 3m, default),
        ]);
        await WaitUntilBlocked($"%into {Schema}.credits%", "the batch's insert waited on the void in flight");
        Assert.False(all[1].IsCompleted);
        if (voidCommits)
        {
            await voiding.CommitAsync();
        }
        else
        {
            await voiding.RollbackAsync();
        }

        Assert.Equal(expected, await all[1]);
        Assert.Equal(CreditOutcome.Applied, await all[2]);
        Assert.Equal(1m + 3m + (voidCommits ? 0m : 5m), await _ledger.Balance("bob", default));
        Assert.Equal(voidCommits, await _ledger.Void(raced, "bob", 5m, default)); // the void stands only if it came first
    }

    [Theory]
    [InlineData(true, LocalTransactionOutcome.RolledBack)]
    [InlineData(false, LocalTransactionOutcome.Committed)]
    public async Task A_local_transaction_waits_for_a_check_back_tombstone_in_flight_and_debits_only_if_it_is_undone(bool tombstoneCommits, LocalTransactionOutcome expected)
    {
        await _ledger.Open("alice", 100m, "alice", default);
        var transfer = Transfer("alice", 60m);
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var checkingBack = await connection.BeginTransactionAsync();
        await using (var tombstone = new NpgsqlCommand(
                         $"insert into {Schema}.local_transactions (transfer_id, outcome, reason) values ($1, 'rolled_back', 'no local transaction when checked back')",
                         connection, checkingBack))
        {
            tombstone.Parameters.Add(new() { Value = transfer.TransferId });
            await tombstone.ExecuteNonQueryAsync();
        }

        var local = _ledger.RunLocalTransaction(transfer, default);
        await WaitUntilBlocked($"%into {Schema}.local_transactions%", "the local transaction's insert waited on the tombstone in flight");
        Assert.False(local.IsCompleted);
        if (tombstoneCommits)
        {
            await checkingBack.CommitAsync();
        }
        else
        {
            await checkingBack.RollbackAsync();
        }

        Assert.Equal(expected, (await local).Outcome);
        Assert.Equal(tombstoneCommits ? 100m : 40m, await _ledger.Balance("alice", default));
        Assert.Equal(expected, (await _ledger.CheckBack(transfer.TransferId, default)).Outcome);
    }

    [Fact]
    public async Task Check_backs_racing_local_transactions_agree_with_them_and_the_balance()
    {
        await _ledger.Open("alice", 10_000m, "alice", default);
        var transfers = Enumerable.Range(0, 80).Select(i => Transfer("alice", i + 1m)).ToList();

        var raced = await Task.WhenAll(transfers.Select(async t =>
        {
            var local = Task.Run(() => _ledger.RunLocalTransaction(t, default));
            var checkBack = Task.Run(() => _ledger.CheckBack(t.TransferId, default));
            return (Local: await local, CheckBack: await checkBack);
        }));

        Assert.All(raced, r => Assert.Equal(r.Local.Outcome, r.CheckBack.Outcome));
        var debited = transfers.Zip(raced).Where(p => p.Second.Local.Outcome == LocalTransactionOutcome.Committed).Sum(p => p.First.Amount);
        Assert.Equal(10_000m - debited, await _ledger.Balance("alice", default));
        await AssertDebitsExact("alice", 10_000m, transfers, [.. raced.Select(r => r.Local)]);
    }

    [Fact]
    public async Task Two_instances_debiting_and_refunding_the_same_accounts_at_once_never_deadlock_and_conserve_money()
    {
        var accounts = new[] { "d", "a", "c", "b" };
        foreach (var account in accounts)
        {
            await _ledger.Open(account, 200m, account, default);
        }
        await using var second = NewInstance();
        var instances = new[] { _ledger, second };
        var debits = Enumerable.Range(0, 160).Select(i => (Instance: instances[i % 2], Transfer: Transfer(accounts[i * 7 % 4], i % 13 + 1m))).ToList();
        var refunds = Enumerable.Range(0, 160).Select(i => (Instance: instances[(i + 1) % 2], Id: Guid.NewGuid(), Account: accounts[i * 5 % 4], Amount: i % 5 + 1m)).ToList();

        var debited = Task.WhenAll(debits.Select(d => Task.Run(() => d.Instance.RunLocalTransaction(d.Transfer, default))));
        var refunded = Task.WhenAll(refunds.Select(r => Task.Run(() => r.Instance.Credit(r.Id, CreditPurpose.Refund, r.Account, r.Amount, default))));
        var outcomes = await debited;
        Assert.All(await refunded, r => Assert.Equal(CreditOutcome.Applied, r));

        foreach (var account in accounts)
        {
            var debitedFrom = debits.Zip(outcomes).Where(p => p.First.Transfer.From.AccountId == account && p.Second.Outcome == LocalTransactionOutcome.Committed).Sum(p => p.First.Transfer.Amount);
            var refundedTo = refunds.Where(r => r.Account == account).Sum(r => r.Amount);
            var balance = await _ledger.Balance(account, default);
            Assert.Equal(200m - debitedFrom + refundedTo, balance);
            Assert.True(balance >= 0);
        }
    }

    /// <summary>
    /// Each transfer debited at most once, the balance what the committed records say and never negative,
    /// every answer the record's, and every refusal a genuine one: its amount no longer fits what is left.
    /// </summary>
    private async Task AssertDebitsExact(string account, decimal opening, IReadOnlyList<ExecuteLocalTransaction> transfers, IReadOnlyList<LocalTransaction> outcomes)
    {
        var balance = (await _ledger.Balance(account, default))!.Value;
        Assert.True(balance >= 0);
        await using (var recorded = _dataSource.CreateCommand(
                         $"select coalesce(sum(amount), 0) from {Schema}.local_transactions where from_account = $1 and outcome = 'committed'"))
        {
            recorded.Parameters.Add(new() { Value = account });
            Assert.Equal(opening - balance, (decimal)(await recorded.ExecuteScalarAsync())!);
        }
        var committed = transfers.Zip(outcomes).DistinctBy(p => p.First.TransferId)
            .Where(p => p.Second.Outcome == LocalTransactionOutcome.Committed).Sum(p => p.First.Amount);
        Assert.Equal(opening - balance, committed);
        foreach (var (transfer, outcome) in transfers.Zip(outcomes))
        {
            Assert.Equal(outcome, await _ledger.FindLocalTransaction(transfer.TransferId, default));
            if (outcome.Reason == "insufficient funds")
            {
                Assert.True(transfer.Amount > balance, $"{transfer.Amount} was refused, but {balance} is left");
            }
        }
    }

    /// <summary>Runs <paramref name="first"/>, held on the accounts' lock, then the others, which queue into one batch; awaits all.</summary>
    private async Task<T[]> InOneBatch<T>(string[] accounts, Func<Task<T>> first, IEnumerable<Func<Task<T>>> others) =>
        await Task.WhenAll(await StartInOneBatch(accounts, first, others));

    /// <summary>Like <see cref="InOneBatch{T}"/>, but returns the started operations, <paramref name="first"/> at 0, once the lock is released.</summary>
    private async Task<List<Task<T>>> StartInOneBatch<T>(string[] accounts, Func<Task<T>> first, IEnumerable<Func<Task<T>>> others)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var holding = await connection.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand($"select 1 from {Schema}.accounts where account_id = any($1) for update", connection, holding))
        {
            hold.Parameters.Add(new() { Value = accounts });
            await hold.ExecuteNonQueryAsync();
        }
        var started = new List<Task<T>> { first() };
        await WaitUntilBlocked($"%{Schema}.accounts%for update%", "the first batch waited on the accounts' lock");
        started.AddRange(others.Select(run => run())); // queued behind the first batch, synchronously
        await holding.RollbackAsync();
        return started;
    }

    /// <summary>Waits until a session runs a statement like <paramref name="statement"/> and waits on a lock.</summary>
    private Task WaitUntilBlocked(string statement, string what) => Eventually.Until(async () =>
    {
        await using var probe = _dataSource.CreateCommand(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like $1");
        probe.Parameters.Add(new() { Value = statement });
        return (long)(await probe.ExecuteScalarAsync())! > 0;
    }, what, TimeSpan.FromSeconds(30));
}
