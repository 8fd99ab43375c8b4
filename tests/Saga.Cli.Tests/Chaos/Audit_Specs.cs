using Saga.Contracts;

namespace Saga.Cli.Tests.Chaos;

/// <summary>
/// Chaos's verdict on money, transfer by transfer: a final state allows exactly one set of facts at the
/// ledgers (A's debit, B's credit, A's refund), and in total the balances are the opening less what an
/// operator wrote off. Anything else fails the run.
/// </summary>
public sealed class Audit_Specs
{
    [Fact]
    public void Each_final_state_with_the_money_it_says_has_no_violation()
    {
        AuditedTransfer[] fitting =
        [
            Transfer(TransferStates.Completed, debit: true, credit: true),
            Transfer(TransferStates.Refunded, debit: true, refund: true),
            // A refund after B voided its credit: a void is no money.
            Transfer(TransferStates.Refunded, debit: true, refund: true, voided: true),
            Transfer(TransferStates.RolledBack),
            Transfer(TransferStates.Resolved, debit: true),
            Transfer(TransferStates.Resolved, debit: true, voided: true),
            Transfer(TransferStates.Resolved),
        ];

        Assert.All(fitting, t => Assert.Null(t.Violation));
    }

    [Fact]
    public void Completed_without_a_debit_is_a_credit_without_a_debit()
    {
        var violation = Transfer(TransferStates.Completed, credit: true).Violation;

        Assert.StartsWith("Completed: a credit without a debit", violation);
    }

    [Fact]
    public void Completed_without_a_credit_is_a_violation()
    {
        Assert.StartsWith("Completed: the ledgers disagree", Transfer(TransferStates.Completed, debit: true).Violation);
    }

    [Fact]
    public void Completed_with_a_refund_is_money_created()
    {
        var violation = Transfer(TransferStates.Completed, debit: true, credit: true, refund: true).Violation;

        Assert.StartsWith("Completed: money created: B credited 1.00 and A refunded it", violation);
    }

    [Fact]
    public void Refunded_with_a_credit_is_a_violation()
    {
        Assert.StartsWith("Refunded: money created", Transfer(TransferStates.Refunded, debit: true, credit: true, refund: true).Violation);
        Assert.NotNull(Transfer(TransferStates.Refunded, debit: true, credit: true).Violation);
    }

    [Fact]
    public void Refunded_without_its_refund_or_its_debit_is_a_violation()
    {
        Assert.NotNull(Transfer(TransferStates.Refunded, debit: true).Violation);
        Assert.NotNull(Transfer(TransferStates.Refunded, refund: true).Violation);
    }

    [Fact]
    public void RolledBack_with_a_debit_is_a_violation()
    {
        Assert.StartsWith("RolledBack: the ledgers disagree", Transfer(TransferStates.RolledBack, debit: true).Violation);
    }

    [Fact]
    public void RolledBack_with_a_credit_or_a_refund_is_a_violation()
    {
        Assert.StartsWith("RolledBack: a credit without a debit", Transfer(TransferStates.RolledBack, credit: true).Violation);
        Assert.NotNull(Transfer(TransferStates.RolledBack, refund: true).Violation);
    }

    [Fact]
    public void Resolved_with_a_credit_is_money_created()
    {
        var violation = Transfer(TransferStates.Resolved, debit: true, credit: true).Violation;

        Assert.StartsWith("Resolved: money created: B credited 1.00 after the operator wrote the debit off", violation);
        Assert.StartsWith("Resolved: money created", Transfer(TransferStates.Resolved, credit: true).Violation);
    }

    [Fact]
    public void Resolved_with_a_refund_is_a_violation()
    {
        var violation = Transfer(TransferStates.Resolved, debit: true, refund: true).Violation;

        Assert.StartsWith("Resolved: A refunded 1.00 that the operator wrote off as lost", violation);
    }

    [Fact]
    public void A_state_that_is_not_final_is_a_violation_whatever_the_money()
    {
        Assert.StartsWith("Committed: not final", Transfer(TransferStates.Committed, debit: true).Violation);
        Assert.All(TransferStates.All.Except(TransferStates.Final), state => Assert.NotNull(Transfer(state).Violation));
    }

    [Fact]
    public void A_debit_for_a_transfer_the_coordinator_does_not_know_is_a_violation()
    {
        var violation = Transfer(state: null, debit: true).Violation;

        Assert.StartsWith("no transfer in the coordinator, yet debit yes", violation);
    }

    [Fact]
    public void Only_a_resolved_transfers_committed_debit_is_written_off()
    {
        Assert.True(Transfer(TransferStates.Resolved, debit: true).WrittenOff);
        Assert.False(Transfer(TransferStates.Resolved).WrittenOff);
        Assert.False(Transfer(TransferStates.Refunded, debit: true, refund: true).WrittenOff);
        Assert.False(Transfer(TransferStates.Completed, debit: true, credit: true).WrittenOff);
        Assert.False(Transfer(state: null, debit: true).WrittenOff);
    }

    [Fact]
    public void Balances_at_the_opening_less_what_was_written_off_hold()
    {
        var audit = AuditOf(balances: 200m - 3m, Transfer(TransferStates.Resolved, debit: true, amount: 3m), Transfer(TransferStates.Completed, debit: true, credit: true));

        Assert.Equal(3m, audit.WrittenOff);
        Assert.Equal(1, audit.WrittenOffCount);
        Assert.Equal(0m, audit.Created);
        Assert.True(audit.Holds);
    }

    [Fact]
    public void Balances_above_the_opening_less_what_was_written_off_are_money_created()
    {
        var audit = AuditOf(balances: 200m, Transfer(TransferStates.Resolved, debit: true, amount: 3m));

        Assert.Equal(3m, audit.Created);
        Assert.False(audit.Holds);
    }

    [Fact]
    public void Balances_below_the_opening_less_what_was_written_off_are_money_lost()
    {
        var audit = AuditOf(balances: 199m, Transfer(TransferStates.Completed, debit: true, credit: true));

        Assert.Equal(-1m, audit.Created);
        Assert.False(audit.Holds);
    }

    [Fact]
    public void A_refund_of_a_written_off_debit_is_money_created_in_total_too()
    {
        // A got its money back and the operator's write-off still counts it as gone.
        var audit = AuditOf(balances: 200m, Transfer(TransferStates.Resolved, debit: true, refund: true));

        Assert.Equal(1m, audit.Created);
        Assert.Single(audit.Violations);
        Assert.False(audit.Holds);
    }

    [Fact]
    public void An_amount_unexplained_at_either_ledger_fails_the_audit()
    {
        var completed = Transfer(TransferStates.Completed, debit: true, credit: true);

        Assert.True(AuditOf(balances: 200m, completed).Holds);
        Assert.False((AuditOf(balances: 200m, completed) with { UnexplainedInA = 1m }).Holds);
        Assert.False((AuditOf(balances: 200m, completed) with { UnexplainedInB = 1m }).Holds);
        Assert.False((AuditOf(balances: 200m, completed) with { UnexplainedInB = -0.01m }).Holds);
    }

    [Fact]
    public void One_violation_fails_the_audit_though_the_totals_agree()
    {
        // A debit rolled back by the state yet committed, and a credit without its debit: the totals cancel out.
        var audit = AuditOf(balances: 200m, Transfer(TransferStates.RolledBack, debit: true), Transfer(TransferStates.Completed, credit: true));

        Assert.Equal(0m, audit.Created);
        Assert.Equal(2, audit.Violations.Count);
        Assert.False(audit.Holds);
    }

    private static AuditedTransfer Transfer(string? state, bool debit = false, bool credit = false, bool refund = false, bool voided = false, decimal amount = 1m) =>
        new(Guid.NewGuid(), state, amount, debit, credit, refund, voided, CreatedAt: null, UpdatedAt: null);

    private static Audit AuditOf(decimal balances, params AuditedTransfer[] transfers) =>
        new(transfers, Opening: 200m, balances, UnexplainedInA: 0m, UnexplainedInB: 0m, VoidsRecorded: true);
}
