using Saga.Components.Scheduling;

namespace Saga.Components.Tests.Scheduling;

/// <summary>
/// Where the durable scheduler sends: only to ledger queues, its one use (a ledger's credit redelivered).
/// Whoever may write to the scheduler (the ledgers) cannot have it deliver a half message or a repair.
/// </summary>
public sealed class SchedulerDestinations_Specs
{
    [Theory]
    [InlineData("rabbitmq://127.0.0.1/saga/ledger-b?bind=true", true)]
    [InlineData("queue:ledger-a", true)]
    [InlineData("queue:half-messages", false)]
    [InlineData("queue:repairs", false)]
    [InlineData("queue:transfers", false)]
    [InlineData("queue:ledger-b-accounts", false)]
    [InlineData("rabbitmq://127.0.0.1/saga/ledger-b_error", false)]
    public void A_scheduled_message_is_kept_only_for_a_ledgers_queue(string destination, bool kept)
    {
        Assert.Equal(kept, new DurableSchedulerOptions().Refusal(new Uri(destination)) is null);
    }
}
