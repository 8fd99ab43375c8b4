using MassTransit;
using MassTransit.Saga;
using Saga.Components.EventStore;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using Microsoft.Extensions.DependencyInjection;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.Transfers;

/// <summary>Every protocol path of the transfer saga, on the real event-sourced repository.</summary>
public sealed class TransferStateMachine_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    [Fact]
    public async Task The_harness_uses_the_event_sourced_repository_not_an_in_memory_one()
    {
        await using var s = await Start(schema);
        using var scope = s.Services.CreateScope();

        Assert.IsType<EventSourcedSagaRepository>(scope.ServiceProvider.GetRequiredService<ISagaRepositoryContextFactory<TransferState>>());
        var id = await s.Prepare();
        Assert.Equal(["HalfMessageStored"], await s.StreamTypes(id)); // read straight from PostgreSQL
    }

    [Fact]
    public async Task Commit_delivers_one_credit_and_the_credit_completes_the_transfer()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();
        Assert.Empty(s.CreditsSent(id)); // the half message is not deliverable

        await s.Send(new CommitTransfer(id));
        await s.InState(id, s.Machine.Committed);
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        var credit = Assert.Single(await s.UntilCreditsSent(id, 1));
        Assert.Equal(new CreditAccount(id, Bob, 100m, "EUR"), credit);
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested", "CreditConfirmed"], await s.StreamTypes(id));
        Assert.DoesNotContain(s.AllSent, m => m is MassTransit.Scheduling.ScheduleMessage); // no timer for a prompt commit
        Assert.Null((await s.Load(id))!.ScanDueAt);
    }

    [Fact]
    public async Task Rollback_ends_the_transfer_and_the_destination_never_hears_of_it()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.Send(new RollbackTransfer(id, "insufficient funds"));
        await s.InState(id, s.Machine.RolledBack);

        Assert.Empty(s.CreditsSent(id));
        Assert.Equal("insufficient funds", (await s.Load(id))!.Reason);
        Assert.Equal(["HalfMessageStored", "TransferRolledBack"], await s.StreamTypes(id));
    }

    [Fact]
    public async Task Unknown_then_a_second_check_back_that_finds_the_commit_delivers_the_credit()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        Assert.Equal(1, await s.CheckBackDueScan(s.Options.CheckBackTimeout));
        Assert.Equal(new CheckLocalTransaction(id, 1, Alice), await s.CheckSent(id, 1));
        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Unknown));
        await s.UntilAnswered(id, 1);
        Assert.Equal(TransferStates.Prepared, (await s.Load(id))!.CurrentState);

        Assert.Equal(0, await s.CheckBackDueScan(TimeSpan.FromSeconds(1))); // the interval grows: not due yet
        Assert.Equal(1, await s.CheckBackDueScan(s.Options.CheckBackInterval(1)));
        await s.CheckSent(id, 2);
        await s.Send(new LocalTransactionChecked(id, 2, LocalTransactionOutcome.Committed));
        await s.InState(id, s.Machine.Committed);

        Assert.Single(await s.UntilCreditsSent(id, 1));
        Assert.Equal(2, (await s.Load(id))!.CheckBacks);
        Assert.Equal(
            ["HalfMessageStored", "CheckBackSent", "CheckBackAnswered", "CheckBackSent", "CheckBackAnswered", "TransferCommitted", "CreditRequested"],
            await s.StreamTypes(id));
    }

    [Fact]
    public async Task Unknown_then_a_check_back_that_finds_the_rollback_ends_it_rolled_back()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare();

        await s.CheckBackDueScan(s.Options.CheckBackTimeout);
        await s.CheckSent(id, 1);
        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Unknown));
        await s.UntilAnswered(id, 1);
        await s.CheckBackDueScan(s.Options.CheckBackInterval(1));
        await s.CheckSent(id, 2);
        await s.Send(new LocalTransactionChecked(id, 2, LocalTransactionOutcome.RolledBack, "no local transaction: tombstone written"));
        await s.InState(id, s.Machine.RolledBack);

        Assert.Empty(s.CreditsSent(id));
        Assert.Equal("no local transaction: tombstone written", (await s.Load(id))!.Reason);
    }

    [Fact]
    public async Task A_lost_commit_is_found_by_the_check_back_and_the_transfer_completes()
    {
        await using var s = await Start(schema);
        var id = await s.Prepare(); // the producer debits, then crashes before sending Commit

        Assert.Equal(1, await s.CheckBackDueScan(s.Options.CheckBackTimeout));
        await s.CheckSent(id, 1);
        await s.Send(new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await s.InState(id, s.Machine.Committed);
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        Assert.Single(await s.UntilCreditsSent(id, 1));
        var committed = (await s.Stream(id)).OfType<TransferCommitted>().Single();
        Assert.Equal("check-back", committed.Source);
    }

    [Fact]
    public async Task When_the_check_back_bound_is_reached_the_transfer_needs_attention_and_a_recheck_resumes_it()
    {
        await using var s = await Start(schema, configure: o => o.MaxCheckBacks = 3);
        var id = await s.Prepare();

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.Equal(1, await s.CheckBackDueScan(attempt == 1 ? s.Options.CheckBackTimeout : s.Options.CheckBackInterval(attempt - 1)));
            await s.CheckSent(id, attempt); // no answer comes
        }
        await s.CheckBackDueScan(s.Options.CheckBackInterval(3));
        await s.InState(id, s.Machine.NeedsAttention);
        Assert.Equal(3, s.ChecksSent(id).Count);
        Assert.Contains("after 3 check-backs", (await s.Load(id))!.Reason);
        Assert.Null((await s.Load(id))!.ScanDueAt); // nothing more is asked

        var answer = await s.Harness.GetRequestClient<RecheckTransfer>()
            .GetResponse<RepairAccepted, RepairRejected>(new RecheckTransfer(id, "ops@example", "ledger A is back"));
        Assert.True(answer.Is(out Response<RepairAccepted>? _));
        Assert.Equal(1, await s.CheckBackDueScan(TimeSpan.Zero));
        await s.CheckSent(id, 4);
        await s.Send(new LocalTransactionChecked(id, 4, LocalTransactionOutcome.Committed));
        await s.InState(id, s.Machine.Committed);

        var recheck = (await s.Stream(id)).OfType<RecheckRequested>().Single();
        Assert.Equal(("ops@example", "ledger A is back"), (recheck.Operator, recheck.Reason));
    }

    [Fact]
    public async Task A_credit_that_faults_after_all_retries_needs_attention_with_the_reason()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();

        var transfer = (await s.Load(id))!;
        Assert.Contains("no account B/bob", transfer.Reason);
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested", "CreditFailed", "TransferNeedsAttention"], await s.StreamTypes(id));
    }

    [Fact]
    public async Task An_operator_retry_of_the_credit_completes_the_transfer()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();

        var answer = await s.Harness.GetRequestClient<RetryCredit>()
            .GetResponse<RepairAccepted, RepairRejected>(new RetryCredit(id, "ops@example", "account bob opened"));
        Assert.True(answer.Is(out Response<RepairAccepted>? _));
        await s.InState(id, s.Machine.Committed);
        await s.Send(new AccountCredited(id, Bob, 100m));
        await s.InState(id, s.Machine.Completed);

        Assert.Equal(2, (await s.UntilCreditsSent(id, 2)).Count); // the same idempotent credit, sent again
        var retry = (await s.Stream(id)).OfType<CreditRetryRequested>().Single();
        Assert.Equal("ops@example", retry.Operator);
    }

    [Fact]
    public async Task An_operator_refund_voids_the_credit_first_then_credits_the_source_account_and_ends_refunded()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();

        var answer = await s.Repair(new RefundTransfer(id, "ops@example", "bob closed his account"));
        Assert.Equal(TransferStates.Voiding, answer.State);
        await s.InState(id, s.Machine.Voiding);
        Assert.Equal(new VoidCredit(id, Bob, 100m), (await s.UntilVoidsSent(id, 1)).Single());
        Assert.DoesNotContain(s.CreditsSent(id), c => c.Purpose == CreditPurpose.Refund);

        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding);
        Assert.Contains(new CreditAccount(id, Alice, 100m, "EUR", CreditPurpose.Refund), await s.UntilCreditsSent(id, 2));

        await s.Send(new AccountCredited(id, Alice, 100m, CreditPurpose.Refund));
        await s.InState(id, s.Machine.Refunded);
        Assert.Equal(["RefundRequested", "VoidRequested", "CreditVoidConfirmed", "CreditRequested", "CreditConfirmed"], (await s.StreamTypes(id)).TakeLast(5));
    }

    [Fact]
    public async Task A_failed_refund_needs_attention_again_and_a_second_refund_needs_no_second_void()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(id, "ops", "refund"));
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Refunding);

        await s.FailCredit(id, CreditPurpose.Refund);

        await s.InState(id, s.Machine.NeedsAttention);
        Assert.StartsWith("refund to A/alice failed", (await s.Load(id))!.Reason);
        Assert.Equal(TransferStates.Refunding, (await s.Repair(new RefundTransfer(id, "ops", "again"))).State);
        Assert.Single(s.VoidsSent(id));
    }

    [Fact]
    public async Task An_operator_resolves_a_committed_transfer_once_its_credit_is_voided_with_the_recorded_reason()
    {
        await using var s = await Start(schema);
        var id = await s.NeedingAttentionAfterCreditFault();

        Assert.Equal(TransferStates.Voiding, (await s.Repair(new ResolveTransfer(id, "ops", "paid by cheque"))).State);
        await s.UntilVoidsSent(id, 1);
        await s.Send(new CreditVoided(id, Bob, 100m));
        await s.InState(id, s.Machine.Resolved);

        var transfer = (await s.Load(id))!;
        Assert.Equal("paid by cheque", transfer.Reason);
        Assert.Equal("ops", (await s.Stream(id)).OfType<TransferResolved>().Single().Operator);
    }

    [Fact]
    public async Task Repairs_that_do_not_fit_the_state_are_rejected_and_change_nothing()
    {
        await using var s = await Start(schema);
        var committed = await s.Committed();
        var before = await s.StreamTypes(committed);

        var retry = await s.Harness.GetRequestClient<RetryCredit>().GetResponse<RepairAccepted, RepairRejected>(new RetryCredit(committed, "ops", "x"));
        var refund = await s.Harness.GetRequestClient<RefundTransfer>().GetResponse<RepairAccepted, RepairRejected>(new RefundTransfer(committed, "ops", "x"));
        var missing = await s.Harness.GetRequestClient<ResolveTransfer>()
            .GetResponse<RepairAccepted, RepairRejected, TransferNotFound>(new ResolveTransfer(NewId.NextGuid(), "ops", "x"));

        Assert.True(retry.Is(out Response<RepairRejected>? r) && r.Message.State == TransferStates.Committed);
        Assert.True(refund.Is(out Response<RepairRejected>? _));
        Assert.True(missing.Is(out Response<TransferNotFound>? _));
        Assert.Equal(before, await s.StreamTypes(committed));

        // Needing attention because nobody answered: the debit is not known, so no credit can be retried or refunded.
        await using var bounded = await Start(schema, configure: o => o.MaxCheckBacks = 0);
        var unknown = await bounded.Prepare();
        await bounded.CheckBackDueScan(bounded.Options.CheckBackTimeout);
        await bounded.InState(unknown, bounded.Machine.NeedsAttention);
        var noRetry = await bounded.Harness.GetRequestClient<RetryCredit>().GetResponse<RepairAccepted, RepairRejected>(new RetryCredit(unknown, "ops", "x"));
        var noRefund = await bounded.Harness.GetRequestClient<RefundTransfer>().GetResponse<RepairAccepted, RepairRejected>(new RefundTransfer(unknown, "ops", "x"));
        Assert.True(noRetry.Is(out Response<RepairRejected>? _));
        Assert.True(noRefund.Is(out Response<RepairRejected>? _));
        Assert.Empty(bounded.CreditsSent(unknown));
    }

    [Fact]
    public async Task The_state_is_answered_to_a_request_client_and_an_unknown_transfer_is_not_found()
    {
        await using var s = await Start(schema);
        var id = await s.Committed();
        var client = s.Harness.GetRequestClient<GetTransferStatus>();

        var known = await client.GetResponse<TransferStatus, TransferNotFound>(new GetTransferStatus(id));
        var unknown = await client.GetResponse<TransferStatus, TransferNotFound>(new GetTransferStatus(NewId.NextGuid()));

        Assert.True(known.Is(out Response<TransferStatus>? status));
        Assert.Equal((TransferStates.Committed, Alice, Bob, 100m), (status.Message.State, status.Message.From, status.Message.To, status.Message.Amount));
        Assert.True(unknown.Is(out Response<TransferNotFound>? _));
        Assert.Equal(["HalfMessageStored", "TransferCommitted", "CreditRequested"], await s.StreamTypes(id)); // a query writes nothing
    }
}
