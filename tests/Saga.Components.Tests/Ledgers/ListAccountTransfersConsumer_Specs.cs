using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Saga.Components.Ledgers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Ledgers;

/// <summary>A ledger answering "the transfers of an account" from its own records, on the real PostgreSQL.</summary>
public sealed class ListAccountTransfersConsumer_Specs : IAsyncLifetime
{
    private readonly string _id = "t" + Guid.NewGuid().ToString("N")[..10];
    private NpgsqlDataSource _dataSource = null!;
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private LedgerDatabase _ledger = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        _dataSource = NpgsqlDataSource.Create(Servers.PostgresConnectionString);
        _provider = new ServiceCollection()
            .AddSingleton(_dataSource)
            .Configure<LedgerOptions>(o => o.Id = _id)
            .AddSingleton<LedgerDatabase>()
            .AddMassTransitTestHarness(x => x.AddConsumer<ListAccountTransfersConsumer>())
            .BuildServiceProvider(true);
        _ledger = _provider.GetRequiredService<LedgerDatabase>();
        await _ledger.Migrate();
        await _ledger.Open("alice", 100m, "alice", default);
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

    private ExecuteLocalTransaction Debit(decimal amount) =>
        new(Guid.NewGuid(), new AccountRef(_id, "alice"), new AccountRef("B", "bob"), amount, "EUR", Initiator: "alice");

    private Task<Response<AccountTransfers, AccountNotFound, AccountTransfersRefused>> Ask(ListAccountTransfers request) =>
        _harness.GetRequestClient<ListAccountTransfers>().GetResponse<AccountTransfers, AccountNotFound, AccountTransfersRefused>(request);

    private async Task<AccountTransfers> Page(string? before, int take, string? viewer = "alice")
    {
        var response = await Ask(new ListAccountTransfers(_id, "alice", viewer, before, take));
        Assert.True(response.Is(out Response<AccountTransfers>? page), $"answered {response.Message}");
        return page.Message;
    }

    [Fact]
    public async Task Debits_rollbacks_credits_refunds_and_voids_appear_newest_first_with_the_balance()
    {
        var debit = Debit(30m);
        await _ledger.RunLocalTransaction(debit, default);
        var poor = Debit(500m);
        await _ledger.RunLocalTransaction(poor, default);
        var credit = Guid.NewGuid();
        await _ledger.Credit(credit, CreditPurpose.Transfer, "alice", 5m, default);
        await _ledger.Credit(debit.TransferId, CreditPurpose.Refund, "alice", 30m, default);
        var voided = Guid.NewGuid();
        await _ledger.Void(voided, "alice", 7m, default);
        await _ledger.CheckBack(Guid.NewGuid(), default); // a tombstone names no account

        var page = await Page(before: null, take: 10);

        Assert.Equal(105m, page.Balance);
        Assert.Equal("alice", page.Owner);
        Assert.Equal(
            [
                (voided, AccountEntry.CreditVoided, 7m, null),
                (debit.TransferId, AccountEntry.RefundCredited, 30m, null),
                (credit, AccountEntry.Credited, 5m, null),
                (poor.TransferId, AccountEntry.RolledBack, 500m, "insufficient funds"),
                (debit.TransferId, AccountEntry.Debited, 30m, (string?)null),
            ],
            page.Items.Select(i => (i.TransferId, i.Entry, i.Amount, i.Reason)));
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task Pages_by_cursor_return_every_entry_once_even_when_a_group_commit_records_many_at_one_time()
    {
        // Concurrent local transactions share one batch, and so one recorded_at.
        var debits = Enumerable.Range(1, 30).Select(_ => Debit(1m)).ToList();
        await Task.WhenAll(debits.Select(d => _ledger.RunLocalTransaction(d, default)));
        var refunds = debits.Take(10).ToList();
        await Task.WhenAll(refunds.Select(d => _ledger.Credit(d.TransferId, CreditPurpose.Refund, "alice", 1m, default)));

        var all = (await Page(before: null, take: ListAccountTransfers.MaxTake)).Items;
        var paged = new List<AccountTransfer>();
        string? before = null;
        var pages = 0;
        do
        {
            var page = await Page(before, take: 7);
            Assert.True(page.Items.Count <= 7);
            paged.AddRange(page.Items);
            before = page.Next;
            pages++;
        }
        while (before is not null);

        Assert.Equal(40, all.Count);
        Assert.Equal(all, paged);
        Assert.Equal(6, pages);
        Assert.Equal(40, paged.Select(i => (i.TransferId, i.Entry)).Distinct().Count());
        Assert.Equal(all.OrderByDescending(i => i.At).Select(i => i.At), all.Select(i => i.At));
    }

    [Theory]
    [InlineData("alice", 0, null, "take must be 1 to 100")]
    [InlineData("alice", 101, null, "take must be 1 to 100")]
    [InlineData("alice", 10, "not-a-cursor", "before is not a cursor this ledger gave")]
    [InlineData("../alice", 10, null, "accountId may hold only ASCII letters, digits and - _ .")]
    [InlineData("", 10, null, "accountId is required")]
    public async Task A_request_with_a_bad_account_id_take_or_cursor_is_refused(string accountId, int take, string? before, string reason)
    {
        var response = await Ask(new ListAccountTransfers(_id, accountId, null, before, take));

        Assert.True(response.Is(out Response<AccountTransfersRefused>? refused), $"answered {response.Message}");
        Assert.Equal(reason, refused.Message.Reason);
    }

    [Fact]
    public async Task An_account_someone_else_owns_is_answered_as_one_that_does_not_exist_and_an_operator_sees_it()
    {
        await _ledger.RunLocalTransaction(Debit(10m), default);

        var stranger = await Ask(new ListAccountTransfers(_id, "alice", "mallory", null, 10));
        var unknown = await Ask(new ListAccountTransfers(_id, "nobody", "mallory", null, 10));
        var asOperator = await Page(before: null, take: 10, viewer: null);

        Assert.IsType<AccountNotFound>(stranger.Message);
        Assert.IsType<AccountNotFound>(unknown.Message);
        Assert.Equal(AccountEntry.Debited, Assert.Single(asOperator.Items).Entry);
    }
}
