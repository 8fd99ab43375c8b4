namespace Saga.Contracts;

/// <summary>
/// The system's address book: every host, client and test takes its queue names from here. The addresses
/// are the queues' exchanges: a MassTransit sender to "queue:{name}" would declare the queue itself, without
/// the arguments a quorum queue is declared with, and the broker refuses that. Who sends to one of these
/// queues declares it once, with its arguments, and binds it to its exchange (DestinationQueues).
/// </summary>
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

    /// <summary>Whether <paramref name="name"/> is one of the queues named here (not an error queue, not a bus's own).</summary>
    public static bool IsEndpoint(string name) =>
        name is Coordinator or HalfMessages or Repairs or Scheduler || LedgerQueue.IsMatch(name);

    private static readonly System.Text.RegularExpressions.Regex LedgerQueue = new("^ledger-[a-z0-9]+(-accounts)?$");

    private static Uri Address(string queue) => new($"exchange:{queue}");
}
