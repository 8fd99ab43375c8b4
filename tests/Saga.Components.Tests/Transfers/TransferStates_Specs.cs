using MassTransit;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using static Saga.Components.Tests.Transfers.TransferScenario;

namespace Saga.Components.Tests.Transfers;

/// <summary>
/// The states are listed once, in <see cref="TransferStates"/>, and written by one hand: the recorded
/// events. The machine's TransitionTo declares where a transition goes; it never moves a transfer
/// somewhere its events did not, so the stored view, the live saga and a rebuild from the stream agree.
/// </summary>
public sealed class TransferStates_Specs(PostgresSchema schema) : IClassFixture<PostgresSchema>
{
    [Fact]
    public async Task The_machine_declares_exactly_the_states_the_contracts_list()
    {
        await using var s = await Start(schema);

        var declared = s.Machine.States.Select(x => x.Name).Except([s.Machine.Initial.Name, s.Machine.Final.Name]);

        Assert.Equal(TransferStates.All.Order(), declared.Order());
        Assert.Empty(TransferStates.Final.Intersect(TransferStates.InFlight));
        Assert.Equal(TransferStates.All.Order(), TransferStates.Final.Concat(TransferStates.InFlight).Append(TransferStates.NeedsAttention).Order());
    }

    [Fact]
    public async Task Every_transition_is_made_by_a_recorded_event_and_a_rebuild_from_the_stream_gives_the_same_transfer()
    {
        await using var s = await Start(schema);
        var moves = new StateMoves();
        using var observer = s.Machine.ConnectStateObserver(moves);

        // Through every state: half message, commit, a failed credit, a refund fenced by the void, refunded;
        // a rollback; a resolve of a transfer whose credit was voided.
        var refunded = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new RefundTransfer(refunded, "ops", "B closed the account"));
        await s.InState(refunded, s.Machine.Voiding);
        await s.Send(new CreditVoided(refunded, Bob, 100m));
        await s.InState(refunded, s.Machine.Refunding);
        await s.Send(new AccountCredited(refunded, Alice, 100m, CreditPurpose.Refund));
        await s.InState(refunded, s.Machine.Refunded);

        var rolledBack = await s.Prepare();
        await s.Send(new RollbackTransfer(rolledBack, "insufficient funds"));
        await s.InState(rolledBack, s.Machine.RolledBack);

        var resolved = await s.NeedingAttentionAfterCreditFault();
        await s.Repair(new ResolveTransfer(resolved, "ops", "paid by hand"));
        await s.Send(new CreditVoided(resolved, Bob, 100m));
        await s.InState(resolved, s.Machine.Resolved);

        var completed = await s.Committed();
        await s.Send(new AccountCredited(completed, Bob, 100m));
        await s.InState(completed, s.Machine.Completed);

        Assert.Empty(moves.NotMadeByEvents);
        foreach (var id in new[] { refunded, rolledBack, resolved, completed })
        {
            var stored = (await s.Load(id))!;
            var rebuilt = TransferState.Rebuild(id, await s.Stream(id));
            Assert.Equal((stored.CurrentState, stored.Version, stored.Reason, stored.ScanDueAt), (rebuilt.CurrentState, rebuilt.Version, rebuilt.Reason, rebuilt.ScanDueAt));
        }
    }

    /// <summary>A move the machine made itself: the state it left differs from the one its events had set.</summary>
    private sealed class StateMoves : IStateObserver<TransferState>
    {
        public List<string> NotMadeByEvents { get; } = [];

        public Task StateChanged(BehaviorContext<TransferState> context, State currentState, State previousState)
        {
            if (currentState.Name != context.Saga.CurrentState || (previousState is not null && previousState.Name != currentState.Name))
            {
                lock (NotMadeByEvents)
                {
                    NotMadeByEvents.Add($"{context.Saga.CorrelationId}: {previousState?.Name} -> {currentState.Name}");
                }
            }
            return Task.CompletedTask;
        }
    }
}
