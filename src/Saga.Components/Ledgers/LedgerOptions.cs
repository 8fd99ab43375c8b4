namespace Saga.Components.Ledgers;

/// <summary>Configuration section "Ledger": which ledger this service is, and how it waits and redelivers.</summary>
public sealed class LedgerOptions
{
    public const string Section = "Ledger";

    /// <summary>The ledger's id ("A", "B"): names its queue (ledger-a) and its database schema (ledger_a).</summary>
    public string Id { get; set; } = "";

    /// <summary>
    /// After the in-process retries, the credit is redelivered later through the scheduler at these
    /// intervals; empty means 5 s, 15 s, 30 s. (Configuration binding appends to a non-empty default.)
    /// </summary>
    public TimeSpan[] CreditRedelivery { get; set; } = [];

    public TimeSpan[] CreditRedeliveryIntervals =>
        CreditRedelivery is { Length: > 0 } r ? r : [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30)];

    public string Schema => "ledger_" + Id.ToLowerInvariant();

    public void Validate()
    {
        if (Id.Length is 0 or > 16 || !Id.All(char.IsAsciiLetterOrDigit))
        {
            throw new InvalidOperationException($"Ledger:Id must be 1-16 ASCII letters or digits, not '{Id}'.");
        }
    }
}

/// <summary>
/// Configuration section "Ledger:FaultInjection": faults for tests and the demo. Off by default; the
/// host refuses to start with it on in the Production environment.
/// </summary>
public sealed class FaultInjectionOptions
{
    public bool Enabled { get; set; }

    /// <summary>Producer: after the local commit of a transfer from an account starting with one of these, "crash": send no Commit.</summary>
    public List<string> SkipCommitFrom { get; set; } = [];

    /// <summary>Producer: answer Unknown to check-backs for transfers from accounts starting with one of these.</summary>
    public List<string> AnswerUnknownFrom { get; set; } = [];

    /// <summary>
    /// Consumer: credits to accounts starting with one of these fail transiently <see cref="TransientFailures"/>
    /// times per transfer, or N times for an entry written "prefix:N".
    /// </summary>
    public List<string> FailTransientlyTo { get; set; } = [];

    public int TransientFailures { get; set; } = 2;

    /// <summary>Consumer: this share (0..1) of all credit attempts fails transiently, for chaos runs.</summary>
    public double TransientFailureRate { get; set; }

    /// <summary>Consumer: credits to accounts starting with one of these fail for good.</summary>
    public List<string> FailPermanentlyTo { get; set; } = [];

    public static bool Matches(List<string> prefixes, string accountId) => prefixes.Exists(p => accountId.StartsWith(p, StringComparison.Ordinal));

    /// <summary>How often a credit to <paramref name="accountId"/> fails transiently; 0 when it does not.</summary>
    public int TransientFailuresFor(string accountId)
    {
        foreach (var entry in FailTransientlyTo)
        {
            var (prefix, count) = entry.LastIndexOf(':') is > 0 and var i && int.TryParse(entry[(i + 1)..], out var n) ? (entry[..i], n) : (entry, TransientFailures);
            if (accountId.StartsWith(prefix, StringComparison.Ordinal))
            {
                return count;
            }
        }
        return 0;
    }
}
