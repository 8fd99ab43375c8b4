namespace Saga.Contracts;

public sealed record GetTransferStatus(Guid TransferId);

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
    DateTimeOffset UpdatedAt);

public sealed record TransferNotFound(Guid TransferId);

/// <summary>The states a transfer can be in, as <see cref="TransferStatus.State"/> spells them.</summary>
public static class TransferStates
{
    public const string Prepared = "Prepared";
    public const string Committed = "Committed";
    public const string Completed = "Completed";
    public const string RolledBack = "RolledBack";
    public const string NeedsAttention = "NeedsAttention";

    /// <summary>An operator's refund or resolve waits for the destination ledger to void the transfer's credit.</summary>
    public const string Voiding = "Voiding";
    public const string Refunding = "Refunding";
    public const string Refunded = "Refunded";
    public const string Resolved = "Resolved";
}
