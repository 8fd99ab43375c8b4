using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.Transfers;

/// <summary>Every message that can arrive twice, late or out of order has one defined effect, and never a second credit.</summary>
public sealed class Duplicate_and_late_messages_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    [Fact]
    public async Task The_half_message_is_acknowledged_by_asking_the_producer_for_its_local_transaction_after_it_is_stored()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare(40m);

        Assert.Equal(new ExecuteLocalTransaction(id, Alice, Bob, 40m, "EUR", Initiator), Assert.Single(s.LocalTransactionsAsked(id)));
        Assert.Equal(["HalfMessageStored"], await s.StreamTypes(id));
        Assert.Equal(TransferStates.Prepared, (await s.Load(id))!.CurrentState);
    }

    [Fact]
    public async Task A_repeated_half_message_while_prepared_asks_the_producer_again_and_is_recorded()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.Send(new StoreHalfMessage(id, Alice, Bob, 100m, "EUR", Initiator));

        var asked = await s.UntilLocalTransactionsAsked(id, 2);
        Assert.Single(asked.Distinct()); // the same request: the ledger's record under the id makes it run once
        Assert.Equal(["HalfMessageStored", "MessageIgnored"], await s.StreamTypes(id));
    }

    [Fact]
    public async Task A_second_half_message_after_the_commit_is_recorded_and_starts_nothing()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();

        await s.Send(new StoreHalfMessage(id, Alice, Bob, 100m, "EUR", Initiator));

        await s.Until(id, e => e.OfType<MessageIgnored>().Any(m => m.Message == nameof(StoreHalfMessage)), "repeated half message recorded");
        Assert.Single((await s.Stream(id)).OfType<HalfMessageStored>());
        Assert.Single(s.LocalTransactionsAsked(id));
        Assert.Single(await s.UntilCreditsSent(id, 1));
    }

    [Fact]
    public async Task A_half_message_for_a_different_transfer_under_the_same_id_is_refused_on_the_stream()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.Send(new StoreHalfMessage(id, Alice, Bob, 999m, "EUR", Initiator));

        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "conflicting half message recorded");
        Assert.Contains("refused", (await s.Stream(id)).OfType<MessageIgnored>().Single().Detail);
        Assert.Single((await s.Stream(id)).OfType<HalfMessageStored>());
        Assert.Single(s.LocalTransactionsAsked(id));
        Assert.Equal(100m, (await s.Load(id))!.Amount);
    }

    [Fact]
    public async Task A_half_message_from_another_initiator_under_the_same_id_is_refused_on_the_stream()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.Send(new StoreHalfMessage(id, Alice, Bob, 100m, "EUR", "mallory"));

        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "half message of another initiator recorded");
        Assert.Contains("'mallory'", (await s.Stream(id)).OfType<MessageIgnored>().Single().Detail);
        Assert.Single(s.LocalTransactionsAsked(id));
        Assert.Equal(Initiator, (await s.Load(id))!.Initiator);
    }

    [Fact]
    public async Task A_duplicate_commit_while_the_credit_is_in_flight_sends_the_same_idempotent_credit_again()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();

        await s.Send(new CommitTransfer(id));
        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "duplicate commit recorded");

        var credits = await s.UntilCreditsSent(id, 2);
        Assert.Equal(2, credits.Count);
        Assert.Single(credits.Distinct()); // the same credit: the ledger applies it once
        Assert.Single((await s.Stream(id)).OfType<TransferCommitted>());
    }

    [Fact]
    public async Task A_duplicate_commit_after_completion_is_recorded_and_sends_nothing()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        await s.Send(new CommitTransfer(id));
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.Until(id, e => e.OfType<MessageIgnored>().Count() == 2, "both duplicates recorded");

        Assert.Single(await s.UntilCreditsSent(id, 1));
        Assert.Equal(TransferStates.Completed, (await s.Load(id))!.CurrentState);
    }

    [Fact]
    public async Task A_rollback_after_the_commit_is_recorded_and_the_commit_stands()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();

        await s.Send(new RollbackTransfer(id, "late"));
        await s.Until(id, e => e.OfType<MessageIgnored>().Any(i => i.Message == nameof(RollbackTransfer)), "late rollback recorded");

        Assert.Equal(TransferStates.Committed, (await s.Load(id))!.CurrentState);
        Assert.Empty((await s.Stream(id)).OfType<TransferRolledBack>());
    }

    [Fact]
    public async Task A_commit_after_the_check_back_learnt_the_commit_only_resends_the_credit()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.CheckSent(id, 1);
        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await s.InState(id, s.Machine.Committed);

        await s.Send(new CommitTransfer(id)); // the producer's delayed Commit
        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "late commit recorded");

        Assert.Single((await s.Stream(id)).OfType<TransferCommitted>());
        var credits = await s.UntilCreditsSent(id, 2);
        Assert.Equal(2, credits.Count); // sent on the check-back's answer, and again on the late Commit...
        Assert.Single(credits.Distinct()); // ...the same credit: the ledger applies it once
    }

    [Fact]
    public async Task A_commit_after_a_rollback_is_never_decided_silently()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        await s.Send(new RollbackTransfer(id, "insufficient funds"));
        await s.InState(id, s.Machine.RolledBack);

        await s.Send(new CommitTransfer(id));
        await s.InState(id, s.Machine.NeedsAttention);

        Assert.Empty(s.CreditsSent(id));
    }

    [Fact]
    public async Task A_check_back_answer_for_a_finished_transfer_is_recorded_with_no_effect()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        await s.Send(new RollbackTransfer(id, "insufficient funds"));
        await s.InState(id, s.Machine.RolledBack);

        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await s.Send(new CheckBackDue(id, 1));
        await s.Until(id, e => e.OfType<MessageIgnored>().Count() == 2, "late answer and check-back recorded");

        Assert.Equal(TransferStates.RolledBack, (await s.Load(id))!.CurrentState);
        Assert.Empty(s.CreditsSent(id));
        Assert.Empty(s.ChecksSent(id));
    }

    [Fact]
    public async Task A_repeated_check_back_message_is_stale_and_asks_nothing_twice()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.CheckSent(id, 1);

        await s.Send(new CheckBackDue(id, 1));
        await s.Until(id, e => e.OfType<MessageIgnored>().Any(), "stale check-back recorded");

        Assert.Single(s.ChecksSent(id));
        Assert.Equal(1, (await s.Load(id))!.CheckBacks);
    }

    [Fact]
    public async Task A_credit_confirmation_overtaking_the_commit_record_completes_the_transfer()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.Send(new AccountCredited(id, Bob, 100m)); // only possible after the producer's commit
        await s.InState(id, s.Machine.Completed);

        Assert.Equal("credit", (await s.Stream(id)).OfType<TransferCommitted>().Single().Source);
    }

    [Fact]
    public async Task Racing_duplicates_of_one_commit_produce_one_commit_and_lose_no_event()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => s.Send(new CommitTransfer(id))));
        await s.Until(id, e => e.OfType<TransferCommitted>().Count() + e.OfType<MessageIgnored>().Count() == 10, "ten commits recorded");

        var stream = await s.Stream(id);
        Assert.Single(stream.OfType<TransferCommitted>());
        Assert.Equal(9, stream.OfType<MessageIgnored>().Count());
        Assert.Equal(stream.Count, (await s.Load(id))!.Version); // the view matches the stream it was written with
        Assert.Single((await s.UntilCreditsSent(id, 1)).Distinct());
    }
}
