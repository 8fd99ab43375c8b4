using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>The producer against a coordinator that answers the half message with a given state, on the real PostgreSQL.</summary>
public sealed class SubmitTransferConsumer_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;
    private string _coordinatorState = TransferStates.Prepared;
    private string? _coordinatorConflict;

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

    [Fact]
    public async Task A_transfer_the_coordinator_already_resolved_is_refused_with_a_tombstone_and_debits_nothing()
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = new SubmitTransfer(Guid.NewGuid(), new AccountRef(_id, "alice"), new AccountRef("B", "bob"), 40m, "EUR");
        _coordinatorState = TransferStates.Resolved;

        var answer = await harness.GetRequestClient<SubmitTransfer>().GetResponse<TransferSubmitted>(transfer);

        Assert.Equal(LocalTransactionOutcome.RolledBack, answer.Message.Outcome);
        Assert.Equal(100m, await ledger.Balance("alice", default));
        Assert.Null((await ledger.FindLocalTransaction(transfer.TransferId, default))!.FromAccount); // the tombstone
        Assert.False(await harness.Sent.Any<CommitTransfer>());
    }

    [Fact]
    public async Task A_repeat_of_a_committed_transfer_for_a_known_account_answers_Committed_and_debits_once()
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = new SubmitTransfer(Guid.NewGuid(), new AccountRef(_id, "alice"), new AccountRef("B", "bob"), 40m, "EUR");
        var client = harness.GetRequestClient<SubmitTransfer>();

        var first = await client.GetResponse<TransferSubmitted>(transfer);
        Assert.True(ledger.IsKnownAccount("alice"));
        _coordinatorState = TransferStates.Completed;
        var repeat = await client.GetResponse<TransferSubmitted>(transfer);
        var other = await client.GetResponse<TransferSubmitted, TransferRejected>(transfer with { Amount = 41m });

        Assert.Equal((LocalTransactionOutcome.Committed, LocalTransactionOutcome.Committed), (first.Message.Outcome, repeat.Message.Outcome));
        Assert.True(other.Is(out Response<TransferRejected>? reused));
        Assert.Equal(TransferRejectionKind.IdReused, reused.Message.Kind);
        Assert.Equal(60m, await ledger.Balance("alice", default));
        Assert.Single(harness.Sent.Select<CommitTransfer>());
    }

    [Fact]
    public async Task A_half_message_the_coordinator_holds_for_another_transfer_is_refused_and_debits_nothing()
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = new SubmitTransfer(Guid.NewGuid(), new AccountRef(_id, "alice"), new AccountRef("B", "bob"), 40m, "EUR");
        _coordinatorConflict = "this id holds another transfer";

        var answer = await harness.GetRequestClient<SubmitTransfer>().GetResponse<TransferSubmitted, TransferRejected>(transfer);

        Assert.True(answer.Is(out Response<TransferRejected>? rejected));
        Assert.Equal(TransferRejectionKind.IdReused, rejected.Message.Kind);
        Assert.Equal(100m, await ledger.Balance("alice", default));
        Assert.Null(await ledger.FindLocalTransaction(transfer.TransferId, default));
        Assert.False(await harness.Sent.Any<CommitTransfer>());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("0.001")]
    public async Task An_amount_the_ledger_does_not_accept_is_refused_before_any_half_message_whatever_the_caller_checked(string amount)
    {
        await using var provider = await Start();
        var (harness, ledger) = (provider.GetRequiredService<ITestHarness>(), provider.GetRequiredService<LedgerDatabase>());
        var transfer = new SubmitTransfer(Guid.NewGuid(), new AccountRef(_id, "alice"), new AccountRef("B", "bob"),
            decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), "EUR");

        var answer = await harness.GetRequestClient<SubmitTransfer>().GetResponse<TransferSubmitted, TransferRejected>(transfer);

        Assert.True(answer.Is(out Response<TransferRejected>? rejected));
        Assert.Contains("amount", rejected.Message.Reason);
        Assert.Equal(TransferRejectionKind.InvalidAmount, rejected.Message.Kind);
        Assert.Equal(100m, await ledger.Balance("alice", default));
        Assert.False(await harness.Sent.Any<StoreHalfMessage>());
    }

    private async Task<ServiceProvider> Start()
    {
        var provider = new ServiceCollection()
            .AddSingleton(_dataSource)
            .Configure<LedgerOptions>(o => o.Id = _id)
            .Configure<FaultInjectionOptions>(_ => { })
            .AddSingleton<LedgerDatabase>()
            .AddMassTransitTestHarness(x =>
            {
                x.AddConsumer<SubmitTransferConsumer>();
                x.AddHandler<StoreHalfMessage>(c => c.RespondAsync(new HalfMessageAcknowledged(c.Message.TransferId, _coordinatorState, _coordinatorConflict)));
                x.AddRequestClient<StoreHalfMessage>();
            })
            .BuildServiceProvider(true);
        var ledger = provider.GetRequiredService<LedgerDatabase>();
        await ledger.Migrate();
        await ledger.Open("alice", 100m, default);
        await provider.GetRequiredService<ITestHarness>().Start();
        return provider;
    }
}
