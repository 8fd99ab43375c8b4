using MassTransit;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.Transfers;

/// <summary>
/// An operator's refund or resolve against a credit that may still be in flight: the coordinator
/// voids the credit at the destination first, and acts only on the destination's answer. Each
/// interleaving of the void, the credit and the repair ends with money moved once or not at all.
/// </summary>
public sealed class Repair_fence_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    /// <summary>Committed, then no confirmation of the credit after every resend: the ledger B that stopped answering.</summary>
    private static async Task<Guid> CreditNeverConfirmed(TransferScenario s)
    {
        var id = await s.Committed();
        while ((await s.Load(id))!.CurrentState == TransferStates.Committed)
        {
            await ScanAndWait(s, id);
        }
        await s.InState(id, s.Machine.NeedsAttention);
        Assert.StartsWith("credit to B/bob not confirmed after", (await s.Load(id))!.Reason);
        return id;
    }

    /// <summary>Moves past the next resend and scans; returns when the transfer has recorded what the scan asked.</summary>
    private static async Task ScanAndWait(TransferScenario s, Guid id)
    {
        var events = (await s.Stream(id)).Count;
        await s.CheckBackDueScan(s.Options.MaxCreditResendInterval);
        await s.Until(id, e => e.Count > events, "the scan's message handled");
    }

    [Fact]
    public async Task The_credit_applied_before_the_void_completes_the_transfer_and_nothing_is_refunded()
    {
        await using var s = await Start(schema, configure: o => o.MaxCreditSends = 2);
        var id = await CreditNeverConfirmed(s);

        await s.Repair(new RefundTransfer(id, "ops", "bob's ledger is down"));
        // Ledger B comes back and consumes a queued copy of the credit before the void: the void answers "credited".
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        Assert.DoesNotContain(s.CreditsSent(id), c => c.Purpose == CreditPurpose.Refund);
        Assert.Equal(["RefundRequested", "VoidRequested", "CreditConfirmed"], (await s.StreamTypes(id)).TakeLast(3));
    }

    [Fact]
    public async Task After_the_void_a_queued_copy_of_the_credit_is_refused_and_recorded_and_the_transfer_stays_refunded()
    {
        await using var s = await Start(schema, configure: o => o.MaxCreditSends = 2);
        var id = await CreditNeverConfirmed(s);
        await s.Repair(new RefundTransfer(id, "ops", "bob's ledger is down"));
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding); // the refund exists only once the void was handled, and is sent then
        await s.Send(new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.InState(id, s.Machine.Refunded);

        // Ledger B comes back: its queued copies meet the void and are refused there.
        await s.Send(new CreditVoided(id, Bob, 100m, RefusedCopy: true));
        await s.Until(id, e => e.OfType<CreditCopyRefused>().Any(), "the refused copy recorded");

        var transfer = (await s.Load(id))!;
        Assert.Equal(TransferStates.Refunded, transfer.CurrentState);
        Assert.Equal((true, false, true), (transfer.CreditVoided, transfer.CreditApplied, transfer.RefundApplied));
        Assert.Single(s.CreditsSent(id), c => c.Purpose == CreditPurpose.Refund);
    }

    [Fact]
    public async Task A_destination_that_never_answers_the_void_gets_no_refund_and_goes_back_to_a_person()
    {
        await using var s = await Start(schema, configure: o => o.MaxCreditSends = 3);
        var id = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(id, "ops", "refund"));

        while ((await s.Load(id))!.CurrentState == TransferStates.Voiding)
        {
            await ScanAndWait(s, id);
        }

        await s.InState(id, s.Machine.NeedsAttention);
        Assert.Equal(3, (await s.UntilVoidsSent(id, 3)).Count);
        Assert.DoesNotContain(s.CreditsSent(id), c => c.Purpose == CreditPurpose.Refund);
        Assert.Contains("nothing was refunded", (await s.Load(id))!.Reason);

        // Asked again once B answers: the void stands, and only then is the refund sent.
        await s.Repair(new RefundTransfer(id, "ops", "B is back"));
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding);
        Assert.Single(await s.UntilCreditsSent(id, 2), c => c.Purpose == CreditPurpose.Refund);
    }

    [Fact]
    public async Task A_resolve_of_a_committed_transfer_whose_credit_was_applied_ends_completed()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();

        await s.Repair(new ResolveTransfer(id, "ops", "paid by cheque"));
        await s.Send(new AccountCredited(id, Bob, 100m));

        await s.InState(id, s.Machine.Completed);
        Assert.Empty((await s.Stream(id)).OfType<TransferResolved>());
    }

    [Fact]
    public async Task A_retry_of_a_voided_credit_and_a_refund_of_an_applied_credit_are_rejected()
    {
        await using var s = await Start(schema);
        var voided = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(voided, "ops", "refund"));
        await s.Send(new CreditVoided(voided, Bob, 100m));
        await s.InState(voided, s.Machine.Refunding); // the refund exists only once the void was handled, and is sent then
        await s.Send(new AccountCredited(voided, Alice, 100m, CreditPurpose.Refund));
        await s.InState(voided, s.Machine.Refunded);

        Assert.Contains("only a transfer that needs attention", (await s.Rejected(new RetryCredit(voided, "ops", "x"))).Reason);

        // A void from an earlier repair answered after a retry of the credit: the credit can never land.
        var retried = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new ResolveTransfer(retried, "ops", "x"));
        await s.Send(new AccountCredited(retried, Bob, 100m));
        await s.InState(retried, s.Machine.Completed);
        Assert.Contains("only a transfer that needs attention", (await s.Rejected(new RefundTransfer(retried, "ops", "x"))).Reason);

        var late = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RetryCredit(late, "ops", "try again"));
        await s.Send(new CreditVoided(late, Bob, 100m, RefusedCopy: true));
        await s.InState(late, s.Machine.NeedsAttention);
        Assert.Contains("was voided there", (await s.Load(late))!.Reason);
        Assert.Contains("voided", (await s.Rejected(new RetryCredit(late, "ops", "again"))).Reason);
        Assert.Equal(TransferStates.Refunding, (await s.Repair(new RefundTransfer(late, "ops", "refund"))).State);
    }

    [Fact]
    public async Task A_credit_applied_after_a_refund_is_never_ignored_it_needs_attention_with_the_money_to_recover()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(id, "ops", "refund"));
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding); // the refund exists only once the void was handled, and is sent then
        await s.Send(new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.InState(id, s.Machine.Refunded);

        // Only a ledger that bypassed its void could send this: recorded with its effect, not ignored.
        await s.Send(new AccountCredited(id, Bob, 100m));

        await s.InState(id, s.Machine.NeedsAttention);
        var transfer = (await s.Load(id))!;
        Assert.Contains("applied after the transfer was Refunded", transfer.Reason);
        Assert.Contains("refunded already", (await s.Rejected(new RefundTransfer(id, "ops", "x"))).Reason);
        Assert.Empty((await s.Stream(id)).OfType<MessageIgnored>());
    }

    [Fact]
    public async Task A_commit_after_the_check_backs_ran_out_is_recorded_and_makes_a_refund_possible()
    {
        await using var s = await Start(schema, configure: o => o.MaxCheckBacks = 0);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.InState(id, s.Machine.NeedsAttention);
        Assert.Contains("nothing was debited", (await s.Rejected(new RefundTransfer(id, "ops", "x"))).Reason);

        await s.Send(new CommitTransfer(id));
        await s.Until(id, e => e.OfType<TransferCommitted>().Any(), "the late commit recorded");

        var transfer = (await s.Load(id))!;
        Assert.Equal((TransferStates.NeedsAttention, true), (transfer.CurrentState, transfer.DebitCommitted));
        Assert.Contains("committed the debit after the transfer was NeedsAttention", transfer.Reason);
        Assert.Equal(TransferStates.Voiding, (await s.Repair(new RefundTransfer(id, "ops", "refund"))).State);
    }

    [Fact]
    public async Task A_commit_after_a_transfer_was_resolved_unknown_reopens_it_for_a_person()
    {
        await using var s = await Start(schema, configure: o => o.MaxCheckBacks = 0);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.InState(id, s.Machine.NeedsAttention);
        Assert.Equal(TransferStates.Resolved, (await s.Repair(new ResolveTransfer(id, "ops", "A says nothing moved"))).State);

        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));

        await s.InState(id, s.Machine.NeedsAttention);
        Assert.True((await s.Load(id))!.DebitCommitted);
    }

    [Fact]
    public async Task A_rollback_after_the_check_backs_ran_out_ends_the_transfer_rolled_back()
    {
        await using var s = await Start(schema, configure: o => o.MaxCheckBacks = 0);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.InState(id, s.Machine.NeedsAttention);

        await s.Send(new RollbackTransfer(id, "insufficient funds"));

        await s.InState(id, s.Machine.RolledBack);
        Assert.Empty(s.CreditsSent(id));
    }

    [Fact]
    public async Task A_resolve_while_a_refund_is_unconfirmed_is_rejected_and_a_late_refund_after_a_resolve_needs_attention()
    {
        await using var s = await Start(schema, configure: o => o.MaxCreditSends = 1);
        var id = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(id, "ops", "refund"));
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding);
        await ScanAndWait(s, id); // the refund is not confirmed after its one send
        await s.InState(id, s.Machine.NeedsAttention);

        // A copy of the refund may still reach ledger A: closing the transfer now could pay alice back unseen.
        Assert.Contains("refund again", (await s.Rejected(new ResolveTransfer(id, "ops", "written off"))).Reason);
        Assert.Equal(TransferStates.Refunding, (await s.Repair(new RefundTransfer(id, "ops", "again"))).State);
        await s.Send(new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.InState(id, s.Machine.Refunded);

        // A resolve that did not know of a refund: the refund arriving after it is recorded with its effect.
        var resolved = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new ResolveTransfer(resolved, "ops", "written off"));
        await s.Send(new CreditVoided(resolved, Bob, 100m));
        await s.InState(resolved, s.Machine.Resolved);
        await s.Send(new AccountCredited(resolved, Alice, 100m, CreditPurpose.Refund));
        await s.InState(resolved, s.Machine.NeedsAttention);
        Assert.Contains("the refund of 100 EUR to A/alice was applied after the transfer was Resolved", (await s.Load(resolved))!.Reason);
    }
}
