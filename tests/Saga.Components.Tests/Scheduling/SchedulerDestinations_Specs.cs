using Saga.Components.Scheduling;
using Saga.Components.Security;

namespace Saga.Components.Tests.Scheduling;

/// <summary>
/// Where the durable scheduler sends: only to ledger queues, its one use (a ledger's credit redelivered),
/// and only to the queue of the ledger that scheduled it. Whoever may write to the scheduler (the ledgers)
/// cannot have it deliver a half message, a repair, or a credit to another ledger.
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
        Assert.Equal(kept, new DurableSchedulerOptions().Refusal(new Uri(destination), null, new SenderOptions()) is null);
    }

    [Theory]
    [InlineData("saga-ledger-b", "queue:ledger-b", true)]
    [InlineData("saga-ledger-b", "rabbitmq://127.0.0.1/saga/ledger-b", true)]
    [InlineData("saga-ledger-b", "queue:ledger-a", false)]
    [InlineData("saga-ledger-b", "queue:ledger-bb", false)]
    [InlineData("saga-ledger-", "queue:ledger-b", false)]
    [InlineData("saga-coordinator", "queue:ledger-b", false)]
    [InlineData("saga-api", "queue:ledger-b", false)]
    [InlineData(null, "queue:ledger-b", false)]
    public void A_ledger_schedules_only_to_its_own_queue(string? user, string destination, bool kept)
    {
        Assert.Equal(kept, new DurableSchedulerOptions().Refusal(new Uri(destination), new SentBy(user), new SenderOptions()) is null);
    }

    [Fact]
    public void A_ledgers_user_is_read_back_as_its_ledger_only_when_it_is_one()
    {
        var senders = new SenderOptions();
        Assert.Equal("saga-ledger-b", senders.LedgerUser("B"));
        Assert.Equal("b", senders.LedgerOf("saga-ledger-b"));
        Assert.Null(senders.LedgerOf("saga-ledger-"));
        Assert.Null(senders.LedgerOf("saga-ledger-B"));
        Assert.Null(senders.LedgerOf("saga-coordinator"));
        Assert.Null(senders.LedgerOf(null));
    }
}
