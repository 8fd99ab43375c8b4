using MassTransit;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.EndToEnd.Tests;

/// <summary>The coordinator of these specs gives up on an unconfirmed credit after three sends, two seconds apart.</summary>
public sealed class RepairSagaSystem : SagaSystem
{
    protected override IReadOnlyDictionary<string, string> CoordinatorSettings { get; } = new Dictionary<string, string>
    {
        ["TransferSaga__CreditResendTimeout"] = "00:00:02", ["TransferSaga__MaxCreditResendInterval"] = "00:00:02",
        ["TransferSaga__MaxCreditSends"] = "3",
    };
}

/// <summary>
/// An operator's repairs on the running system, against credits still on their way to ledger B: whatever
/// the order in which B meets the credit and the coordinator's void, money moves once or not at all.
/// </summary>
public sealed class Repair_Specs(RepairSagaSystem system) : IClassFixture<RepairSagaSystem>
{
    [Fact]
    public async Task A_refund_while_ledger_B_is_frozen_waits_for_B_and_never_pays_twice()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await SagaSystem.Freeze(system.LedgerB);
        try
        {
            await system.Submit(id, alice, bob, 100m);
            var attention = await system.UntilState(id, TransferStates.NeedsAttention);
            Assert.StartsWith($"credit to {bob} not confirmed after 3 sends", attention.Reason);

            var refund = await system.Client<RefundTransfer>(Queues.RepairsAddress)
                .GetResponse<RepairAccepted, RepairRejected>(new RefundTransfer(id, "ops@example", "ledger B does not answer"));
            Assert.True(refund.Is(out Response<RepairAccepted>? accepted));
            Assert.Equal(TransferStates.Voiding, accepted.Message.State);
        }
        finally
        {
            await SagaSystem.Thaw(system.LedgerB);
        }

        // B meets the queued copies of the credit and the void, in order or concurrently: one of them wins, and
        // money moved as the end state says: credited and not refunded, or refunded and never credited.
        var end = await system.UntilOneOf(id, [TransferStates.Completed, TransferStates.Refunded]);
        Assert.Equal(end.State == TransferStates.Completed ? (900m, 100m) : (1000m, 0m), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task A_credit_moved_back_from_the_error_queue_after_a_refund_is_refused_and_recorded()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var late = new AccountRef("B", "late-" + Guid.NewGuid().ToString("N")[..8]);
        var id = NewId.NextGuid();
        await system.Submit(id, alice, late, 100m);
        await system.UntilState(id, TransferStates.NeedsAttention);

        await system.Client<RefundTransfer>(Queues.RepairsAddress)
            .GetResponse<RepairAccepted, RepairRejected>(new RefundTransfer(id, "ops@example", "no such account"));
        await system.UntilState(id, TransferStates.Refunded);
        Assert.Equal(1000m, await system.Balance(alice));

        // The account is opened after all, and someone shovels the failed credit back to ledger B.
        await system.OpenNamedAccount("B", late.AccountId, 0m);
        // One copy, or more if the scan resent the credit before B's fault arrived: each must be refused.
        var moved = await system.MoveBack(Queues.Error(Queues.Ledger("B")), Queues.Ledger("B"), id);
        Assert.True(moved >= 1, "the failed credit was in ledger B's error queue");

        await Eventually.Until(() => system.EventTypes(id), types => types.Count(t => t == "credit_copy_refused") >= moved,
            $"all {moved} copies moved back were refused on the stream");
        Assert.Equal((1000m, 0m), (await system.Balance(alice), await system.Balance(late)));
        Assert.Equal(TransferStates.Refunded, (await system.Status(id))!.State);
    }

    [Fact]
    public async Task A_resolve_of_a_committed_transfer_with_ledger_B_frozen_waits_for_B_and_never_pays_twice()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await SagaSystem.Freeze(system.LedgerB);
        try
        {
            await system.Submit(id, alice, bob, 100m);
            await system.UntilState(id, TransferStates.NeedsAttention);
            var resolve = await system.Client<ResolveTransfer>(Queues.RepairsAddress)
                .GetResponse<RepairAccepted, RepairRejected>(new ResolveTransfer(id, "ops@example", "paid bob by hand"));
            Assert.True(resolve.Is(out Response<RepairAccepted>? accepted));
            Assert.Equal(TransferStates.Voiding, accepted.Message.State);
        }
        finally
        {
            await SagaSystem.Thaw(system.LedgerB);
        }

        var end = await system.UntilOneOf(id, [TransferStates.Completed, TransferStates.Resolved]);
        Assert.Equal(end.State == TransferStates.Completed ? 100m : 0m, await system.Balance(bob));
        Assert.Equal(900m, await system.Balance(alice));
    }
}
