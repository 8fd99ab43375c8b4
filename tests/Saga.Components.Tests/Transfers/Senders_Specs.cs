using Saga.Components.Security;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.Transfers;

/// <summary>
/// A transfer takes its commit and check-back answers only from its source ledger, its credit's confirmation
/// only from the ledger credited, and its check-backs only from the coordinator: every ledger may write to the
/// coordinator's queue, and ledger B must not be able to commit a transfer out of A that A never debited.
/// A refused message is recorded and moves no money.
/// </summary>
public sealed class Senders_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    private static readonly SenderOptions Senders = new();
    private static readonly string LedgerA = Senders.LedgerUser(Alice.Ledger);
    private static readonly string LedgerB = Senders.LedgerUser(Bob.Ledger);

    [Fact]
    public async Task A_commit_signed_by_the_destination_ledger_is_refused_on_the_stream_and_no_credit_is_sent()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.SendAs(LedgerB, new CommitTransfer(id));

        await s.Until(id, e => e.OfType<MessageRefused>().Any(), "forged commit recorded");
        var refused = (await s.Stream(id)).OfType<MessageRefused>().Single();
        Assert.Equal((nameof(CommitTransfer), LedgerB), (refused.Message, refused.Sender));
        Assert.Contains(LedgerA, refused.Reason);
        Assert.Equal(TransferStates.Prepared, (await s.Load(id))!.CurrentState);
        Assert.Empty(s.CreditsSent(id));

        await s.SendAs(LedgerA, new CommitTransfer(id));
        await s.InState(id, s.Machine.Committed);
        Assert.Single(await s.UntilCreditsSent(id, 1));
    }

    [Fact]
    public async Task An_unsigned_commit_is_refused_like_a_forged_one()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.SendAs(null, new CommitTransfer(id));

        await s.Until(id, e => e.OfType<MessageRefused>().Any(), "unsigned commit recorded");
        Assert.Equal("an unsigned sender", (await s.Stream(id)).OfType<MessageRefused>().Single().Sender);
        Assert.Equal(TransferStates.Prepared, (await s.Load(id))!.CurrentState);
        Assert.Empty(s.CreditsSent(id));
    }

    [Fact]
    public async Task A_rollback_or_a_check_back_answer_from_another_ledger_is_refused()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.SendAs(LedgerB, new RollbackTransfer(id, "forged"));
        await s.SendAs(LedgerB, new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await s.SendAs(LedgerA, new CheckBackDue(id, 1));

        await s.Until(id, e => e.OfType<MessageRefused>().Count() == 3, "three refusals recorded");
        Assert.Equal([nameof(CheckBackDue), nameof(LocalTransactionChecked), nameof(RollbackTransfer)],
            (await s.Stream(id)).OfType<MessageRefused>().Select(r => r.Message).Order());
        Assert.Equal(TransferStates.Prepared, (await s.Load(id))!.CurrentState);
        Assert.Empty(s.CreditsSent(id));
        Assert.Empty(s.ChecksSent(id));
    }

    [Fact]
    public async Task A_credit_is_confirmed_only_by_the_ledger_credited()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();

        await s.SendAs(LedgerA, new AccountCredited(id, Bob, 100m));
        await s.Until(id, e => e.OfType<MessageRefused>().Any(), "confirmation from the wrong ledger recorded");
        Assert.Equal(TransferStates.Committed, (await s.Load(id))!.CurrentState);

        await s.SendAs(LedgerB, new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);
    }

    [Fact]
    public async Task A_refund_is_voided_by_the_destination_and_confirmed_by_the_source_only()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(id, "ops", "B refused the credit"));

        await s.SendAs(LedgerA, new CreditVoided(id, Bob, 100m));
        await s.Until(id, e => e.OfType<MessageRefused>().Any(), "void from the source recorded");
        Assert.Equal(TransferStates.Voiding, (await s.Load(id))!.CurrentState);

        await s.SendAs(LedgerB, new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding);
        await s.SendAs(LedgerB, new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.Until(id, e => e.OfType<MessageRefused>().Count() == 2, "refund confirmation from the destination recorded");
        Assert.Equal(TransferStates.Refunding, (await s.Load(id))!.CurrentState);

        await s.SendAs(LedgerA, new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.InState(id, s.Machine.Refunded);
    }
}
