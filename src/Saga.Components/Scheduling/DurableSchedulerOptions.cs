using System.Text.RegularExpressions;

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

    /// <summary>Immediate refires of a scheduled message whose send failed, before it is given up.</summary>
    public int MaxRefires { get; set; } = 5;

    /// <summary>How long one attempt to send a scheduled message may take before it counts as failed.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

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
        if (ThreadCount < 1 || MaxRefires < 0 || SendTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("ThreadCount and SendTimeout must be positive, MaxRefires not negative.");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex Identifier();
}
