namespace Saga.Components.Transfers;

/// <summary>Timing of the transfer saga; configuration section "TransferSaga".</summary>
public sealed class TransferSagaOptions
{
    public const string Section = "TransferSaga";

    /// <summary>How long a half message may wait for Commit/Rollback before the first check-back (RocketMQ: 6 s).</summary>
    public TimeSpan CheckBackTimeout { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>Each check-back's wait is the previous one times this factor…</summary>
    public double CheckBackBackoff { get; set; } = 2;

    /// <summary>…up to this cap.</summary>
    public TimeSpan MaxCheckBackInterval { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Check-backs before the transfer needs attention (RocketMQ: 15).</summary>
    public int MaxCheckBacks { get; set; } = 15;

    /// <summary>
    /// A credit not confirmed after this long is sent again by the scan (the ledger applies it once):
    /// the broker's at-least-once delivery, kept even if a confirmation is lost.
    /// </summary>
    public TimeSpan CreditResendTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Sends of one credit before the transfer needs attention. Each unconfirmed send waits twice as
    /// long as the one before (up to <see cref="MaxCreditResendInterval"/>), so a ledger that is down
    /// for long does not find its queue filled with copies; the copies already queued still complete it.
    /// </summary>
    public int MaxCreditSends { get; set; } = 10;

    public TimeSpan MaxCreditResendInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// New half messages wait in their queue while more than this many messages wait in the coordinator's
    /// (<c>transfers</c>): commits and credits of transfers in flight come first, or their check-backs and
    /// resends come due while they wait and add work to a coordinator already behind.
    /// </summary>
    public int MaxBacklog { get; set; } = 500;

    /// <summary>The wait after send <paramref name="send"/> (1-based) of a credit before it is sent again.</summary>
    public TimeSpan CreditResendInterval(int send)
    {
        var seconds = CreditResendTimeout.TotalSeconds * Math.Pow(2, Math.Max(0, send - 1));
        return seconds >= MaxCreditResendInterval.TotalSeconds ? MaxCreditResendInterval : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>The wait after check-back <paramref name="attempt"/> (1-based) before the next one.</summary>
    public TimeSpan CheckBackInterval(int attempt)
    {
        var seconds = CheckBackTimeout.TotalSeconds * Math.Pow(CheckBackBackoff, Math.Max(0, attempt));
        return seconds >= MaxCheckBackInterval.TotalSeconds ? MaxCheckBackInterval : TimeSpan.FromSeconds(seconds);
    }
}
