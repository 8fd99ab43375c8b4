using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>The destination ledger's credit and void consumers on the real PostgreSQL, answering a stand-in coordinator.</summary>
public sealed class CreditAccountConsumer_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private LedgerDatabase _ledger = null!;

    private AccountRef Bob => new(_id, "bob");

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        _dataSource = NpgsqlDataSource.Create(Servers.PostgresConnectionString);
        _provider = new ServiceCollection()
            .AddSingleton(_dataSource)
            .Configure<LedgerOptions>(o => o.Id = _id)
            .Configure<FaultInjectionOptions>(_ => { })
            .AddSingleton<LedgerDatabase>()
            .AddSingleton<FaultInjector>()
            .AddMassTransitTestHarness(x =>
            {
                x.AddConsumer<CreditAccountConsumer>();
                x.AddConsumer<VoidCreditConsumer>();
            })
            .BuildServiceProvider(true);
        _ledger = _provider.GetRequiredService<LedgerDatabase>();
        await _ledger.Migrate();
        await _ledger.Open("bob", 0m, "bob", default);
        _harness = _provider.GetRequiredService<ITestHarness>();
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
        await using (var drop = _dataSource.CreateCommand($"drop schema if exists ledger_{_id} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }
        await _dataSource.DisposeAsync();
    }

    [Fact]
    public async Task A_void_first_makes_every_later_copy_of_the_credit_a_refused_and_reported_copy()
    {
        var id = Guid.NewGuid();
        await _harness.Bus.Publish(new VoidCredit(id, Bob, 100m));
        Assert.True(await _harness.Sent.Any<CreditVoided>(x => x.Context.Message.TransferId == id && !x.Context.Message.RefusedCopy));

        await _harness.Bus.Publish(new CreditAccount(id, Bob, 100m, "EUR"));
        await _harness.Bus.Publish(new CreditAccount(id, Bob, 100m, "EUR"));

        Assert.Equal(2, await Count<CreditVoided>(m => m.TransferId == id && m.RefusedCopy, 2));
        Assert.False(await _harness.Sent.Any<AccountCredited>(x => x.Context.Message.TransferId == id));
        Assert.False(await _harness.Published.Any<Fault<CreditAccount>>());
        Assert.Equal(0m, await _ledger.Balance("bob", default));
    }

    [Fact]
    public async Task A_credit_first_makes_the_void_answer_credited()
    {
        var id = Guid.NewGuid();
        await _harness.Bus.Publish(new CreditAccount(id, Bob, 100m, "EUR"));
        Assert.True(await _harness.Sent.Any<AccountCredited>(x => x.Context.Message.TransferId == id));

        await _harness.Bus.Publish(new VoidCredit(id, Bob, 100m));

        Assert.Equal(2, await Count<AccountCredited>(m => m.TransferId == id, 2));
        Assert.False(await _harness.Sent.Any<CreditVoided>(x => x.Context.Message.TransferId == id));
        Assert.Equal(100m, await _ledger.Balance("bob", default));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-100")]
    [InlineData("0.005")]
    public async Task A_credit_of_an_amount_the_ledger_does_not_accept_fails_for_good_at_once_and_moves_nothing(string amount)
    {
        var id = Guid.NewGuid();
        await _harness.Bus.Publish(new CreditAccount(id, Bob, decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), "EUR"));

        Assert.True(await _harness.Published.Any<Fault<CreditAccount>>(x => x.Context.Message.Message.TransferId == id));
        var fault = _harness.Published.Select<Fault<CreditAccount>>().Single(x => x.Context.Message.Message.TransferId == id).Context.Message;
        Assert.Contains("amount", fault.Exceptions[0].Message);
        Assert.Equal(0m, await _ledger.Balance("bob", default));
    }

    /// <summary>Waits until <paramref name="expected"/> matching messages were sent, for up to 20 s; returns how many were.</summary>
    private Task<int> Count<T>(Func<T, bool> match, int expected) where T : class =>
        Eventually.Until(() => Task.FromResult(_harness.Sent.Select<T>().Count(x => match(x.Context.Message))), count => count >= expected,
            $"{expected} {typeof(T).Name} were sent", TimeSpan.FromSeconds(20), count => $"{count} sent");
}
