using MassTransit;
using Saga.Cli;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.EndToEnd.Tests;

/// <summary>Transfers through the real hosts; in every test the money in A + B is conserved.</summary>
public sealed class Transfer_Specs(SagaSystem system) : IClassFixture<SagaSystem>
{
    [Fact]
    public async Task A_committed_transfer_moves_the_money_exactly_once()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await system.Submit(id, alice, bob, 100m);

        await system.UntilState(id, TransferStates.Completed);
        Assert.Equal((900m, 100m), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task Insufficient_funds_roll_back_and_the_destination_never_hears_of_it()
    {
        var alice = await system.OpenAccount("A", "poor", 50m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await system.Submit(id, alice, bob, 100m);

        var status = await system.UntilState(id, TransferStates.RolledBack);
        // The check-back comes after 5 s here: on a loaded machine its tombstone may reach ledger A first,
        // which rolls the transfer back just as exactly.
        Assert.Contains(status.Reason, new[] { "insufficient funds", "no local transaction when checked back" });
        Assert.Equal((50m, 0m), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task A_producer_crashing_after_its_local_commit_is_recovered_by_check_back()
    {
        var crashy = await system.OpenNamedAccount("A", "crashy", 1_000_000m); // ledger A sends no Commit for this account
        var before = await system.Balance(crashy);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await system.Submit(id, crashy, bob, 100m);

        var status = await system.UntilState(id, TransferStates.Completed);
        Assert.True(status.CheckBacks >= 1);
        Assert.Equal((before - 100m, 100m), (await system.Balance(crashy), await system.Balance(bob)));
    }

    // Ledger B fails credits to "flaky" twice (the in-process retries absorb it) and to "stubborn" six
    // times (more than the four attempts in process: one redelivery through the durable scheduler).
    // The credit reports retry attempt + redeliveries of the delivery that succeeded.
    [Theory]
    [InlineData("flaky", 2)]
    [InlineData("stubborn", 3)]
    public async Task A_credit_failing_for_a_while_completes_with_one_credit(string account, int retries)
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var failing = await system.OpenNamedAccount("B", account, 0m);
        var before = await system.Balance(failing);
        var id = NewId.NextGuid();

        await system.Submit(id, alice, failing, 100m);

        await system.UntilState(id, TransferStates.Completed);
        Assert.Equal((900m, before + 100m), (await system.Balance(alice), await system.Balance(failing)));
        Assert.Equal(retries, await system.CreditRetries(id));
    }

    [Fact]
    public async Task A_permanent_credit_failure_lands_in_the_error_queue_and_needs_attention_and_a_refund_ends_it()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var nobody = new AccountRef("B", "nobody-" + Guid.NewGuid().ToString("N")[..8]);
        var errorsBefore = await system.MessagesIn(Queues.Error(Queues.Ledger("B")));
        var id = NewId.NextGuid();

        await system.Submit(id, alice, nobody, 100m);

        var attention = await system.UntilState(id, TransferStates.NeedsAttention);
        Assert.Contains("no account", attention.Reason);
        // The fault is published before the message is moved to the error queue: wait for it to land.
        Assert.Equal(errorsBefore + 1, await system.UntilMessagesIn(Queues.Error(Queues.Ledger("B")), errorsBefore + 1));
        Assert.Equal(900m, await system.Balance(alice));

        var refund = await system.Client<RefundTransfer>(Queues.RepairsAddress)
            .GetResponse<RepairAccepted, RepairRejected>(new RefundTransfer(id, "ops@example", "no such account"));
        Assert.True(refund.Is(out Response<RepairAccepted>? _));
        await system.UntilState(id, TransferStates.Refunded);
        Assert.Equal(1000m, await system.Balance(alice));
    }

    [Fact]
    public async Task An_operator_retry_after_the_account_is_opened_completes_the_transfer()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var late = new AccountRef("B", "late-" + Guid.NewGuid().ToString("N")[..8]);
        var id = NewId.NextGuid();
        await system.Submit(id, alice, late, 100m);
        await system.UntilState(id, TransferStates.NeedsAttention);

        await system.OpenNamedAccount("B", late.AccountId, 0m);
        var retry = await system.Client<RetryCredit>(Queues.RepairsAddress)
            .GetResponse<RepairAccepted, RepairRejected>(new RetryCredit(id, "ops@example", "account opened"));

        Assert.True(retry.Is(out Response<RepairAccepted>? _));
        await system.UntilState(id, TransferStates.Completed);
        Assert.Equal((900m, 100m), (await system.Balance(alice), await system.Balance(late)));
    }

    [Fact]
    public async Task A_duplicate_delivery_of_every_message_changes_nothing()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();
        await system.Submit(id, alice, bob, 100m);
        await system.UntilState(id, TransferStates.Completed);

        await system.Submit(id, alice, bob, 100m);
        await system.Submit(id, alice, bob, 999m);
        await system.Send(Queues.LedgerAddress("A"), new ExecuteLocalTransaction(id, alice, bob, 100m, "EUR", SagaSystem.Owner));
        var (ledgerA, ledgerB) = (system.Accounts.Ledger("A"), system.Accounts.Ledger("B"));
        await system.SendAs(ledgerA, Queues.CoordinatorAddress, new CommitTransfer(id));
        await system.Send(Queues.LedgerAddress("B"), new CreditAccount(id, bob, 100m, "EUR"));
        await system.SendAs(ledgerB, Queues.CoordinatorAddress, new AccountCredited(id, bob, 100m));
        await system.Send(Queues.LedgerAddress("A"), new CheckLocalTransaction(id, 1, alice));
        await system.SendAs(ledgerA, Queues.CoordinatorAddress, new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
        await system.SendAs(ledgerA, Queues.CoordinatorAddress, new RollbackTransfer(id, "late"));
        // A request answered by ledger B proves it consumed the duplicate credit sent before it (one queue, in order).
        await system.Balance(bob);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => system.Status(id)));

        Assert.Equal(TransferStates.Completed, (await system.Status(id))!.State);
        Assert.Equal((900m, 100m), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task Two_instances_of_each_host_compete_for_the_same_queues_without_double_effects()
    {
        await system.StartAnother(system.Coordinator, "coordinator-2");
        await system.StartAnother(system.LedgerA, "ledger-a-2");
        await system.StartAnother(system.LedgerB, "ledger-b-2");
        try
        {
            await TransfersWithEveryHostTwice();
        }
        finally
        {
            await system.StopOthers();
        }
    }

    private async Task TransfersWithEveryHostTwice()
    {
        var alice = await system.OpenAccount("A", "alice", 10_000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var ids = Enumerable.Range(0, 60).Select(_ => NewId.NextGuid()).ToList();

        // Every transfer is submitted twice at once: the two coordinators may each take one, and each
        // ask a different ledger A instance to run the local transaction.
        await Task.WhenAll(ids.SelectMany(id => new[] { system.Submit(id, alice, bob, 10m), system.Submit(id, alice, bob, 10m) }));

        var final = new List<TransferStatus>();
        foreach (var id in ids)
        {
            final.Add(await system.UntilFinal(id));
        }
        var completed = final.Count(s => s.State == TransferStates.Completed);
        Assert.True(completed > 0);
        Assert.Equal((10_000m - 10m * completed, 10m * completed), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task A_ledger_refuses_to_start_with_fault_injection_outside_the_Development_environment()
    {
        var environment = system.LedgerA.Environment.ToDictionary(kv => kv.Key, kv => kv.Value);
        environment["DOTNET_ENVIRONMENT"] = "Staging";
        // A log of its own: a shared one would still hold an earlier run's lines.
        var logs = Directory.CreateTempSubdirectory("saga-production-").FullName;
        await using var production = new HostProcess("ledger-a-production", "Saga.Ledger", environment, logs);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => production.Start());

        Assert.Contains("exited", error.Message);
        Assert.Contains("Ledger:FaultInjection:Enabled is only allowed in the Development environment, and this is Staging",
            await File.ReadAllTextAsync(production.LogFile));
    }

    [Fact]
    public async Task A_ledger_that_dies_on_its_own_is_started_again_and_the_credit_queued_meanwhile_completes()
    {
        var alice = await system.OpenAccount("A", "alice", 1000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var restarted = new TaskCompletionSource();
        system.LedgerB.Restarted += () => restarted.TrySetResult();
        var restartsBefore = system.LedgerB.Restarts;

        // Killed from outside, as the OOM killer or a watchdog's exit would: not through HostProcess.
        using (var process = System.Diagnostics.Process.GetProcessById(system.LedgerB.Pid!.Value))
        {
            process.Kill();
        }
        var id = NewId.NextGuid();
        await system.Submit(id, alice, bob, 100m);
        await restarted.Task.WaitAsync(TimeSpan.FromSeconds(90));

        await system.UntilState(id, TransferStates.Completed);
        Assert.Equal(restartsBefore + 1, system.LedgerB.Restarts);
        Assert.Equal((900m, 100m), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task Killing_the_coordinator_while_transfers_are_in_flight_loses_none_of_them()
    {
        var alice = await system.OpenAccount("A", "alice", 10_000m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var ids = Enumerable.Range(0, 40).Select(_ => NewId.NextGuid()).ToList();

        // The half messages wait in the durable queue while the coordinator is down: none is lost.
        var submits = ids.Select(async (id, i) =>
        {
            await Task.Delay(i * 10);
            await system.Submit(id, alice, bob, 10m);
        }).ToList();
        await Task.Delay(150);
        system.Coordinator.Kill();
        await system.Coordinator.Start();
        await Task.WhenAll(submits);

        var final = new List<TransferStatus>();
        foreach (var id in ids)
        {
            final.Add(await system.UntilFinal(id));
        }
        var completed = final.Count(s => s.State == TransferStates.Completed);
        Assert.True(completed > 0);
        Assert.Equal((10_000m - 10m * completed, 10m * completed), (await system.Balance(alice), await system.Balance(bob)));
    }

    [Fact]
    public async Task A_commit_sent_where_the_Api_may_write_goes_to_the_error_queue_and_moves_no_money()
    {
        var (halfErrors, repairErrors) = (await system.MessagesIn(Queues.Error(Queues.HalfMessages)), await system.MessagesIn(Queues.Error(Queues.Repairs)));

        await ForgedWhilePrepared(async id =>
        {
            // What a compromised Api could send: a commit the source ledger never gave, where the Api may write.
            await system.Send(Queues.HalfMessagesAddress, new CommitTransfer(id));
            await system.Send(Queues.RepairsAddress, new CommitTransfer(id));
            await system.UntilMessagesIn(Queues.Error(Queues.HalfMessages), halfErrors + 1);
            await system.UntilMessagesIn(Queues.Error(Queues.Repairs), repairErrors + 1);
        });
    }

    [Fact]
    public async Task A_commit_signed_by_ledger_B_for_a_transfer_out_of_A_is_refused_on_the_stream_and_credits_nothing()
    {
        await ForgedWhilePrepared(async id =>
        {
            // What a compromised ledger B could send, where every ledger may write: a commit A never gave, and the
            // answer to a check-back A was never asked. The broker vouches for who sent them.
            await system.SendAs(system.Accounts.Ledger("B"), Queues.CoordinatorAddress, new CommitTransfer(id));
            await system.SendAs(system.Accounts.Ledger("B"), Queues.CoordinatorAddress, new LocalTransactionChecked(id, 1, LocalTransactionOutcome.Committed));
            await Eventually.Until(() => system.EventTypes(id), types => types.Count(t => t == "message_refused") == 2,
                "both forged messages refused on the stream", TimeSpan.FromSeconds(30));
        });
    }

    /// <summary>
    /// A transfer of 100 out of an account holding 50, kept Prepared by a frozen ledger A while <paramref name="forge"/>
    /// sends what an attacker would: it must still be Prepared after, and once A is back it rolls back with no money moved.
    /// </summary>
    private async Task ForgedWhilePrepared(Func<Guid, Task> forge)
    {
        var poor = await system.OpenAccount("A", "poor", 50m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();

        await SagaSystem.Freeze(system.LedgerA);
        try
        {
            await system.Submit(id, poor, bob, 100m);
            await system.UntilState(id, TransferStates.Prepared);
            await forge(id);
            Assert.Equal(TransferStates.Prepared, (await system.Status(id))!.State);
        }
        finally
        {
            await SagaSystem.Thaw(system.LedgerA);
        }

        // Rolled back by ledger A (insufficient funds) or by a check-back's tombstone, whichever A met first.
        await system.UntilState(id, TransferStates.RolledBack);
        Assert.Equal((50m, 0m), (await system.Balance(poor), await system.Balance(bob)));
    }

    [Fact]
    public async Task A_half_message_sent_where_the_ledgers_write_goes_to_the_error_queue_and_debits_nothing()
    {
        var alice = await system.OpenAccount("A", "alice", 100m);
        var bob = await system.OpenAccount("B", "bob", 0m);
        var id = NewId.NextGuid();
        var refused = await system.MessagesIn(Queues.Error(Queues.Coordinator));

        // What a compromised ledger could send: a half message naming alice's owner as the initiator.
        await system.Send(Queues.CoordinatorAddress, new StoreHalfMessage(id, alice, bob, 100m, "EUR", SagaSystem.Owner));

        await system.UntilMessagesIn(Queues.Error(Queues.Coordinator), refused + 1);
        Assert.Null(await system.Status(id));
        Assert.Equal((100m, 0m), (await system.Balance(alice), await system.Balance(bob)));
    }
}
