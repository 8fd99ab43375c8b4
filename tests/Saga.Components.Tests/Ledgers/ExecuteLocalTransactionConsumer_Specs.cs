using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>The producer, asked by the coordinator to run its local transaction, on the real PostgreSQL.</summary>
public sealed class ExecuteLocalTransactionConsumer_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        _dataSource = NpgsqlDataSource.Create(Servers.PostgresConnectionString);
    }

    public async Task DisposeAsync()
    {
        await using (var drop = _dataSource.CreateCommand($"drop schema if exists ledger_{_id} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }
        await _dataSource.DisposeAsync();
    }

    private ExecuteLocalTransaction Transfer(decimal amount, string from = "alice") =>
        new(Guid.NewGuid(), new AccountRef(_id, from), new AccountRef("B", "bob"), amount, "EUR", Initiator: from);

    [Fact]
    public async Task Asked_twice_it_debits_once_and_commits_both_times()
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = Transfer(40m);

        await harness.Bus.Publish(transfer);
        await harness.Bus.Publish(transfer);

        await Eventually.Until(() => Task.FromResult(harness.Sent.Select<CommitTransfer>().Count()), n => n == 2, "two commits sent", TimeSpan.FromSeconds(20));
        Assert.Equal(60m, await ledger.Balance("alice", default));
        Assert.False(await harness.Sent.Any<RollbackTransfer>());
    }

    [Theory]
    [InlineData("insufficient funds", 101, "alice")]
    [InlineData("unknown account", 1, "nobody")]
    public async Task A_debit_it_cannot_make_is_recorded_and_rolled_back_with_the_reason(string reason, int amount, string from)
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = Transfer(amount, from);

        await harness.Bus.Publish(transfer);

        var rollback = await Eventually.Until(() => Task.FromResult(harness.Sent.Select<RollbackTransfer>().Select(s => s.Context.Message).ToList()),
            sent => sent.Count == 1, "a rollback sent", TimeSpan.FromSeconds(20));
        Assert.Equal(reason, rollback[0].Reason);
        Assert.Equal(LocalTransactionOutcome.RolledBack, (await ledger.FindLocalTransaction(transfer.TransferId, default))!.Outcome);
        Assert.Equal(100m, await ledger.Balance("alice", default));
    }

    [Theory]
    [InlineData(0.001)]
    [InlineData(-5)]
    public async Task An_amount_no_ledger_accepts_is_rolled_back_without_touching_money(double amount)
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = Transfer((decimal)amount);

        await harness.Bus.Publish(transfer);

        var rollback = await Eventually.Until(() => Task.FromResult(harness.Sent.Select<RollbackTransfer>().Select(s => s.Context.Message).ToList()),
            sent => sent.Count == 1, "a rollback sent", TimeSpan.FromSeconds(20));
        Assert.Contains("amount", rollback[0].Reason);
        Assert.Null(await ledger.FindLocalTransaction(transfer.TransferId, default)); // the check-back's tombstone makes it exact
        Assert.Equal(100m, await ledger.Balance("alice", default));
    }

    [Fact]
    public async Task After_a_check_back_tombstone_it_debits_nothing_and_answers_the_rollback()
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = Transfer(40m);
        await ledger.CheckBack(transfer.TransferId, default);

        await harness.Bus.Publish(transfer);

        await Eventually.Until(() => Task.FromResult(harness.Sent.Select<RollbackTransfer>().Count()), n => n == 1, "a rollback sent", TimeSpan.FromSeconds(20));
        Assert.Equal(100m, await ledger.Balance("alice", default));
        Assert.False(await harness.Sent.Any<CommitTransfer>());
    }

    private async Task<ServiceProvider> Start()
    {
        var provider = new ServiceCollection()
            .AddSingleton(_dataSource)
            .Configure<LedgerOptions>(o => o.Id = _id)
            .Configure<FaultInjectionOptions>(_ => { })
            .AddSingleton<LedgerDatabase>()
            .AddMassTransitTestHarness(x => x.AddConsumer<ExecuteLocalTransactionConsumer>())
            .BuildServiceProvider(true);
        var ledger = provider.GetRequiredService<LedgerDatabase>();
        await ledger.Migrate();
        await ledger.Open("alice", 100m, "alice", default);
        await provider.GetRequiredService<ITestHarness>().Start();
        return provider;
    }
}
