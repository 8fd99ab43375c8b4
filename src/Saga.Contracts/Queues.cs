namespace Saga.Contracts;

/// <summary>The system's address book: every host, client and test takes its queue names from here.</summary>
public static class Queues
{
    /// <summary>The coordinator's transfer saga: half messages, commits, check-back answers, credits confirmed, repairs.</summary>
    public const string Coordinator = "transfers";

    /// <summary>
    /// New transfers' half messages, consumed by the same saga as <see cref="Coordinator"/> from a queue of
    /// their own: a backlog of new work never delays the commits and credits of transfers in flight, whose
    /// check-backs would otherwise come due while they wait.
    /// </summary>
    public const string HalfMessages = "half-messages";

    /// <summary>
    /// Operators' repairs and status requests, from the Api, consumed by the same saga. The Api may write to
    /// this queue and to <see cref="HalfMessages"/>, never to <see cref="Coordinator"/>, where the ledgers'
    /// commits and confirmations arrive; each of the two accepts only its own message types.
    /// </summary>
    public const string Repairs = "repairs";

    /// <summary>The durable scheduler, hosted by the coordinator: every bus schedules its redeliveries through it.</summary>
    public const string Scheduler = "scheduler";

    /// <summary>
    /// One ledger service's part in a transfer, "ledger-{id}": as producer and as consumer. Only the
    /// coordinator may send to it (README.md, "Service accounts").
    /// </summary>
    public static string Ledger(string ledgerId) => "ledger-" + ledgerId.ToLowerInvariant();

    /// <summary>One ledger service's accounts, "ledger-{id}-accounts": opened and read through the Api.</summary>
    public static string LedgerAccounts(string ledgerId) => Ledger(ledgerId) + "-accounts";

    /// <summary>Where MassTransit moves what a queue's consumers could not handle.</summary>
    public static string Error(string queue) => queue + "_error";

    public static Uri CoordinatorAddress { get; } = Address(Coordinator);

    public static Uri HalfMessagesAddress { get; } = Address(HalfMessages);

    public static Uri RepairsAddress { get; } = Address(Repairs);

    public static Uri SchedulerAddress { get; } = Address(Scheduler);

    public static Uri LedgerAddress(string ledgerId) => Address(Ledger(ledgerId));

    public static Uri LedgerAccountsAddress(string ledgerId) => Address(LedgerAccounts(ledgerId));

    private static Uri Address(string queue) => new($"queue:{queue}");
}
