using System.Text.RegularExpressions;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Components.Scheduling;

/// <summary>The durable scheduler's settings; every node of one scheduler cluster uses the same ones.</summary>
public sealed partial class DurableSchedulerOptions
{
    public string ConnectionString { get; set; } = "";

    /// <summary>PostgreSQL schema of the Quartz tables (<c>qrtz_…</c>); created at startup if missing.</summary>
    public string Schema { get; set; } = "scheduler";

    /// <summary>Quartz scheduler name: the nodes sharing a schema and this name form one cluster.</summary>
    public string SchedulerName { get; set; } = "saga-scheduler";

    /// <summary>Scheduled messages sent at once by one node.</summary>
    public int ThreadCount { get; set; } = 10;

    /// <summary>How long one attempt to send a scheduled message may take before it counts as failed.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Wait before a scheduled message whose send failed is fired again; each further wait is twice
    /// the last, up to <see cref="MaxSendRetryDelay"/>. The message stays stored until it is sent or cancelled.
    /// </summary>
    public TimeSpan SendRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxSendRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Waits before each new attempt to store a ScheduleMessage that failed (the database away, say);
    /// after the last, MassTransit moves it to the scheduler's error queue. About three minutes in all.
    /// </summary>
    public IReadOnlyList<TimeSpan> StoreRetryIntervals { get; set; } =
        [.. new[] { 0.1, 0.5, 1, 2, 5, 10, 20, 30, 30, 30, 30, 30 }.Select(TimeSpan.FromSeconds)];

    /// <summary>
    /// The queues a scheduled message may be sent to. Its one use is redelivering a ledger's credits to that
    /// ledger, and whoever may write to the scheduler's queue (the ledgers) must not be able to have it
    /// deliver anything else with the coordinator's rights: a half message naming any initiator, or a repair.
    /// </summary>
    public string Destinations { get; set; } = "^ledger-[a-z0-9]+$";

    /// <summary>
    /// A scheduled message goes only to the queue of the ledger whose broker user scheduled it (<see cref="SentBy"/>):
    /// ledger B, which may write here, cannot have a credit delivered to ledger A. Off only in tests whose buses sign as no service.
    /// </summary>
    public bool OnlyToSendersOwnQueue { get; set; } = true;

    /// <summary>Why a scheduled message to <paramref name="destination"/>, from <paramref name="sentBy"/> (null where the transport vouches for no one), is refused; null when it is kept.</summary>
    public string? Refusal(Uri destination, SentBy? sentBy, SenderOptions senders)
    {
        var queue = destination.AbsolutePath.Split('/')[^1];
        if (!Regex.IsMatch(queue, Destinations))
        {
            return $"this scheduler sends only to {Destinations}, not to {queue}";
        }
        if (OnlyToSendersOwnQueue && sentBy is not null && (senders.LedgerOf(sentBy.User) is not { } ledger || Queues.Ledger(ledger) != queue))
        {
            return $"{sentBy} may not schedule a message to {queue}: a ledger schedules only to its own queue";
        }
        return null;
    }

    internal string TablePrefix => $"{Schema}.qrtz_";

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("The durable scheduler needs a PostgreSQL connection string.");
        }
        // The schema name is written into DDL and into every Quartz statement, unquoted.
        if (!Identifier().IsMatch(Schema))
        {
            throw new ArgumentException($"'{Schema}' is not a plain lower-case PostgreSQL identifier.");
        }
        if (ThreadCount < 1 || SendTimeout <= TimeSpan.Zero || SendRetryDelay <= TimeSpan.Zero || MaxSendRetryDelay < SendRetryDelay)
        {
            throw new ArgumentException("ThreadCount, SendTimeout and SendRetryDelay must be positive, MaxSendRetryDelay no shorter than SendRetryDelay.");
        }
        if (StoreRetryIntervals.Count == 0 || StoreRetryIntervals.Any(i => i < TimeSpan.Zero))
        {
            throw new ArgumentException("StoreRetryIntervals needs at least one wait, none negative.");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex Identifier();
}
