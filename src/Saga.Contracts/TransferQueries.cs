namespace Saga.Contracts;

public sealed record GetTransferStatus(Guid TransferId);

/// <summary>A transfer as its readers see it; <see cref="Initiator"/> is the caller who asked for it.</summary>
public sealed record TransferStatus(
    Guid TransferId,
    string State,
    AccountRef From,
    AccountRef To,
    decimal Amount,
    string Currency,
    int CheckBacks,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Initiator = null);

public sealed record TransferNotFound(Guid TransferId);

/// <summary>
/// The states a transfer can be in, as <see cref="TransferStatus.State"/> spells them, and the sets that
/// matter to its readers. The coordinator's state machine declares the same states (a spec holds them equal).
/// </summary>
public static class TransferStates
{
    /// <summary>The half message is held: the producer's debit is not known yet; the scan checks back.</summary>
    public const string Prepared = "Prepared";

    /// <summary>The debit committed; the credit is on its way to the destination ledger.</summary>
    public const string Committed = "Committed";

    public const string Completed = "Completed";
    public const string RolledBack = "RolledBack";

    /// <summary>Retries or check-backs ran out, or the ledgers disagree: a person repairs it.</summary>
    public const string NeedsAttention = "NeedsAttention";

    /// <summary>An operator's refund or resolve waits for the destination ledger to void the transfer's credit.</summary>
    public const string Voiding = "Voiding";

    /// <summary>The credit is voided; the refund is on its way to the source ledger.</summary>
    public const string Refunding = "Refunding";

    public const string Refunded = "Refunded";
    public const string Resolved = "Resolved";

    public static IReadOnlyList<string> All { get; } = [Prepared, Committed, Completed, RolledBack, NeedsAttention, Voiding, Refunding, Refunded, Resolved];

    /// <summary>Ended: the money is where the state says (Resolved: closed by a person), and nothing is in flight.</summary>
    public static IReadOnlyList<string> Final { get; } = [Completed, RolledBack, Refunded, Resolved];

    /// <summary>The coordinator waits on a ledger's answer and the check-back scan acts when none comes.</summary>
    public static IReadOnlyList<string> InFlight { get; } = [Prepared, Committed, Voiding, Refunding];

    public static bool IsFinal(string? state) => state is not null && Final.Contains(state);

    public static bool IsInFlight(string? state) => state is not null && InFlight.Contains(state);
}
