using Saga.Cli;

namespace Saga.EndToEnd.Tests;

/// <summary>The bench's reconciliation per ledger pair, from the ledgers' records joined by transfer id.</summary>
public sealed class Reconciliation_Specs
{
    private static readonly Guid AtoB = Guid.NewGuid(), BtoC = Guid.NewGuid(), CtoA = Guid.NewGuid();

    // A pays B 1, B pays C 2, C pays A 3: every ledger opened with 100.
    private static LedgerRecords[] ThreeLedgers(Credit[]? creditsInC = null) =>
    [
        new("A", 100m, 100m - 1m + 3m, [new(AtoB, "B", 1m)], [new(CtoA, 3m)]),
        new("B", 100m, 100m + 1m - 2m, [new(BtoC, "C", 2m)], [new(AtoB, 1m)]),
        new("C", 100m, 100m + 2m - 3m, [new(CtoA, "A", 3m)], creditsInC ?? [new(BtoC, 2m)]),
    ];

    [Fact]
    public void Every_ordered_pair_holds_when_each_debit_arrived_where_it_was_sent()
    {
        var reconciliation = Reconciliation.Of(ThreeLedgers());

        Assert.Equal(6, reconciliation.Pairs.Count);
        Assert.All(reconciliation.Pairs, p => Assert.True(p.Holds, p.Line));
        Assert.Equal((1, 2m, 2m), reconciliation.Pairs.Where(p => (p.From, p.To) == ("B", "C")).Select(p => (p.Transfers, p.Debited, p.Credited)).Single());
        Assert.Equal((true, 0L, 0L), (reconciliation.Conserved, reconciliation.Duplicates, reconciliation.CreditsWithoutDebit));
    }

    [Fact]
    public void A_debit_that_never_arrived_fails_its_pair_alone()
    {
        var records = ThreeLedgers(creditsInC: []);
        records[2] = records[2] with { Balance = 100m - 3m };

        var reconciliation = Reconciliation.Of(records);

        Assert.Equal([("B", "C")], reconciliation.Pairs.Where(p => !p.Holds).Select(p => (p.From, p.To)));
        Assert.False(reconciliation.Conserved);
    }

    [Fact]
    public void A_credit_in_another_ledger_than_its_debit_named_fails_both_pairs()
    {
        // B debited for C, yet A credited it: the totals still add up, the pairs do not.
        var records = ThreeLedgers(creditsInC: []);
        records[2] = records[2] with { Balance = 100m - 3m };
        records[0] = records[0] with { Balance = records[0].Balance + 2m, Credits = [.. records[0].Credits, new(BtoC, 2m)] };

        var reconciliation = Reconciliation.Of(records);

        Assert.True(reconciliation.Conserved);
        Assert.Equal([("B", "A"), ("B", "C")], reconciliation.Pairs.Where(p => !p.Holds).Select(p => (p.From, p.To)).Order());
    }

    [Fact]
    public void A_credit_without_a_debit_and_a_credit_applied_twice_are_counted()
    {
        var stray = Guid.NewGuid();
        var records = ThreeLedgers();
        records[1] = records[1] with { Balance = records[1].Balance + 5m + 1m, Credits = [.. records[1].Credits, new(stray, 5m)] };

        var reconciliation = Reconciliation.Of(records);

        Assert.Equal((1L, 1L), (reconciliation.CreditsWithoutDebit, reconciliation.Duplicates));
    }

    [Fact]
    public void A_refunded_debit_is_no_money_owed_to_its_pair()
    {
        var records = ThreeLedgers(creditsInC: []);
        records[2] = records[2] with { Balance = 100m - 3m };
        records[1] = records[1] with { Balance = records[1].Balance + 2m, Credits = [.. records[1].Credits, new(BtoC, 2m, Refund: true)] };

        var reconciliation = Reconciliation.Of(records);

        Assert.All(reconciliation.Pairs, p => Assert.True(p.Holds, p.Line));
        Assert.Equal((true, 0L, 0L), (reconciliation.Conserved, reconciliation.Duplicates, reconciliation.CreditsWithoutDebit));
    }
}
