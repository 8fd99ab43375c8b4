using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

public sealed class CheckLocalTransactionConsumer_Specs
{
    [Fact]
    public async Task When_the_ledger_database_cannot_be_reached_the_answer_is_Unknown_never_Committed()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(Servers.PostgresConnectionString) { Port = 1, Timeout = 2 }.ConnectionString;
        await using var provider = new ServiceCollection()
            .AddSingleton(NpgsqlDataSource.Create(unreachable))
            .Configure<LedgerOptions>(o => o.Id = "A")
            .Configure<FaultInjectionOptions>(_ => { })
            .AddSingleton<LedgerDatabase>()
            .AddMassTransitTestHarness(x => x.AddConsumer<CheckLocalTransactionConsumer>())
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var id = Guid.NewGuid();

        await harness.Bus.Publish(new CheckLocalTransaction(id, 3, new AccountRef("A", "alice")));

        Assert.True(await harness.Sent.Any<LocalTransactionChecked>(m => m.Context.Message.TransferId == id));
        var answer = harness.Sent.Select<LocalTransactionChecked>(m => m.Context.Message.TransferId == id).Single().Context.Message;
        Assert.Equal((3, LocalTransactionOutcome.Unknown), (answer.Attempt, answer.Outcome));
        await harness.Stop();
    }
}
