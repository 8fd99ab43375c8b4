namespace Saga.Cli.Tests.Bench;

/// <summary>
/// The bench's verdict on money, from the ledgers' records alone: each spec is a run whose money went wrong
/// in one way, and the count that must show it. A checker that missed one would pass every bench and chaos run.
/// </summary>
public sealed class Reconciliation_Specs
{
    private const decimal Opening = 100m;

    [Fact]
    public void A_clean_run_holds_on_every_count()
    {
        var (ab, ba, refunded) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var a = Ledger("A", Opening - 1 + 1 - 1 + 1, [new(ab, "B", 1m), new(refunded, "B", 1m)], [new(ba, 1m), new(refunded, 1m, Refund: true)]);
        var b = Ledger("B", Opening + 1 - 1, [new(ba, "A", 1m)], [new(ab, 1m)]);

        var r = Reconciliation.Of([a, b]);

        Assert.Equal(["A->B", "B->A"], r.Pairs.Select(p => $"{p.From}->{p.To}").Order());
        Assert.All(r.Pairs, p => Assert.True(p.Holds, p.Line));
        Assert.Equal((2, 1m, 1m), Figures(Pair(r, "A", "B")));
        Assert.Equal((1, 1m, 1m), Figures(Pair(r, "B", "A")));
        Assert.True(r.Conserved);
        Assert.Equal(0, r.Duplicates);
        Assert.Equal(0, r.CreditsWithoutDebit);
    }

    [Fact]
    public void A_credit_applied_twice_shows_as_a_duplicate()
    {
        var t = Guid.NewGuid();
        // B's balance moved twice for the one credit it recorded: its records still agree with A's.
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening + 2, credits: [new(t, 1m)])]);

        Assert.Equal(1, r.Duplicates);
        Assert.False(r.Conserved);
        Assert.True(Pair(r, "A", "B").Holds);
    }

    [Fact]
    public void Each_extra_application_of_a_credit_of_1_00_counts_as_one_duplicate()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening + 3, credits: [new(t, 1m)])]);

        Assert.Equal(2, r.Duplicates);
    }

    [Fact]
    public void A_debit_applied_twice_to_a_balance_shows_as_a_duplicate()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 2, [new(t, "B", 1m)]), Ledger("B", Opening + 1, credits: [new(t, 1m)])]);

        Assert.Equal(1, r.Duplicates);
        Assert.False(r.Conserved);
    }

    [Fact]
    public void A_credit_recorded_twice_makes_its_pair_not_hold()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening + 2, credits: [new(t, 1m), new(t, 1m)])]);

        Assert.Equal((1, 1m, 2m), Figures(Pair(r, "A", "B")));
        Assert.False(Pair(r, "A", "B").Holds);
        Assert.False(r.Conserved);
    }

    [Fact]
    public void A_debit_recorded_twice_is_not_conserved()
    {
        var t = Guid.NewGuid();
        // The pair counts a transfer's first debit only, so here it holds: the total is what shows the second.
        var r = Reconciliation.Of([Ledger("A", Opening - 2, [new(t, "B", 1m), new(t, "B", 1m)]), Ledger("B", Opening + 1, credits: [new(t, 1m)])]);

        Assert.False(r.Conserved);
    }

    [Fact]
    public void A_credit_without_a_committed_debit_counts_as_a_credit_without_debit()
    {
        var r = Reconciliation.Of([Ledger("A", Opening), Ledger("B", Opening + 1, credits: [new(Guid.NewGuid(), 1m)])]);

        Assert.Equal(1, r.CreditsWithoutDebit);
        Assert.False(r.Conserved);
    }

    [Fact]
    public void A_refund_lowers_its_pairs_debited_so_a_debit_refunded_without_a_credit_holds()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening, [new(t, "B", 1m)], [new(t, 1m, Refund: true)]), Ledger("B", Opening)]);

        Assert.Equal((1, 0m, 0m), Figures(Pair(r, "A", "B")));
        Assert.All(r.Pairs, p => Assert.True(p.Holds, p.Line));
        Assert.True(r.Conserved);
        Assert.Equal(0, r.Duplicates);
        Assert.Equal(0, r.CreditsWithoutDebit);
    }

    [Fact]
    public void A_refund_credited_in_a_ledger_that_did_not_debit_counts_as_without_debit()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening + 1, credits: [new(t, 1m, Refund: true)])]);

        Assert.Equal(1, r.CreditsWithoutDebit);
        Assert.False(Pair(r, "A", "B").Holds);
    }

    [Fact]
    public void A_refund_beside_the_credit_creates_money_and_its_pair_does_not_hold()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening, [new(t, "B", 1m)], [new(t, 1m, Refund: true)]), Ledger("B", Opening + 1, credits: [new(t, 1m)])]);

        Assert.Equal((1, 0m, 1m), Figures(Pair(r, "A", "B")));
        Assert.False(Pair(r, "A", "B").Holds);
        Assert.False(r.Conserved);
    }

    [Fact]
    public void Money_created_at_a_balance_without_a_record_is_not_conserved()
    {
        var r = Reconciliation.Of([Ledger("A", Opening), Ledger("B", Opening + 5)]);

        Assert.False(r.Conserved);
        Assert.Equal(5, r.Duplicates);
    }

    [Fact]
    public void Money_lost_at_a_balance_without_a_record_is_not_conserved()
    {
        var r = Reconciliation.Of([Ledger("A", Opening - 1), Ledger("B", Opening)]);

        Assert.False(r.Conserved);
        Assert.Equal(1, r.Duplicates);
    }

    [Fact]
    public void A_debit_whose_credit_never_came_makes_its_pair_not_hold()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening)]);

        Assert.Equal((1, 1m, 0m), Figures(Pair(r, "A", "B")));
        Assert.False(Pair(r, "A", "B").Holds);
        Assert.False(r.Conserved);
        Assert.Equal(0, r.Duplicates);
        Assert.Equal(0, r.CreditsWithoutDebit);
    }

    [Fact]
    public void A_credit_of_another_amount_than_its_debit_makes_the_pair_not_hold()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening + 2, credits: [new(t, 2m)])]);

        Assert.False(Pair(r, "A", "B").Holds);
        Assert.False(r.Conserved);
    }

    [Fact]
    public void A_credit_in_another_ledger_than_the_debit_was_for_breaks_both_pairs_though_money_is_conserved()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening - 1, [new(t, "B", 1m)]), Ledger("B", Opening), Ledger("C", Opening + 1, credits: [new(t, 1m)])]);

        Assert.True(r.Conserved);
        Assert.Equal((1, 1m, 0m), Figures(Pair(r, "A", "B")));
        Assert.Equal((0, 0m, 1m), Figures(Pair(r, "A", "C")));
        Assert.Equal(2, r.Pairs.Count(p => !p.Holds));
    }

    [Fact]
    public void A_transfers_credit_in_the_ledger_that_debited_it_counts_as_without_debit()
    {
        var t = Guid.NewGuid();
        var r = Reconciliation.Of([Ledger("A", Opening, [new(t, "B", 1m)], [new(t, 1m)]), Ledger("B", Opening)]);

        Assert.Equal(1, r.CreditsWithoutDebit);
        Assert.False(Pair(r, "A", "B").Holds);
    }

    private static readonly Guid AtoB = Guid.NewGuid(), BtoC = Guid.NewGuid(), CtoA = Guid.NewGuid();

    // A pays B 1, B pays C 2, C pays A 3: every ledger opened with 100.
    private static LedgerRecords[] ThreeLedgers(Credit[]? creditsInC = null) =>
    [
        new("A", Opening, Opening - 1m + 3m, [new(AtoB, "B", 1m)], [new(CtoA, 3m)]),
        new("B", Opening, Opening + 1m - 2m, [new(BtoC, "C", 2m)], [new(AtoB, 1m)]),
        new("C", Opening, Opening + 2m - 3m, [new(CtoA, "A", 3m)], creditsInC ?? [new(BtoC, 2m)]),
    ];

    [Fact]
    public void With_three_ledgers_every_ordered_pair_holds_when_each_debit_arrived_where_it_was_sent()
    {
        var reconciliation = Reconciliation.Of(ThreeLedgers());

        Assert.Equal(6, reconciliation.Pairs.Count);
        Assert.All(reconciliation.Pairs, p => Assert.True(p.Holds, p.Line));
        Assert.Equal((1, 2m, 2m), Figures(Pair(reconciliation, "B", "C")));
        Assert.Equal((true, 0L, 0L), (reconciliation.Conserved, reconciliation.Duplicates, reconciliation.CreditsWithoutDebit));
    }

    [Fact]
    public void With_three_ledgers_a_debit_that_never_arrived_fails_its_pair_alone()
    {
        var records = ThreeLedgers(creditsInC: []);
        records[2] = records[2] with { Balance = Opening - 3m };

        var reconciliation = Reconciliation.Of(records);

        Assert.Equal([("B", "C")], reconciliation.Pairs.Where(p => !p.Holds).Select(p => (p.From, p.To)));
        Assert.False(reconciliation.Conserved);
    }

    private static LedgerRecords Ledger(string name, decimal balance, Debit[]? debits = null, Credit[]? credits = null) =>
        new(name, Opening, balance, debits ?? [], credits ?? []);

    private static LedgerPair Pair(Reconciliation r, string from, string to) => r.Pairs.Single(p => p.From == from && p.To == to);

    private static (int Transfers, decimal Debited, decimal Credited) Figures(LedgerPair p) => (p.Transfers, p.Debited, p.Credited);
}
