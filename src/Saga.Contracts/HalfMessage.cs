namespace Saga.Contracts;

// The producer's side of RocketMQ's transactional message, spoken to the coordinator.

/// <summary>
/// The half message: the producer (the ledger owning <see cref="From"/>) announces the transfer before
/// touching any money. The coordinator stores it as not deliverable and answers
/// <see cref="HalfMessageAcknowledged"/>; without that answer the producer must not debit.
/// </summary>
public sealed record StoreHalfMessage(Guid TransferId, AccountRef From, AccountRef To, decimal Amount, string Currency);

/// <summary>
/// The coordinator holds the half message for <see cref="TransferId"/>. <see cref="Conflict"/> is set when
/// the transfer it holds under that id is a different one: the producer must then not debit.
/// </summary>
public sealed record HalfMessageAcknowledged(Guid TransferId, string State, string? Conflict = null);

/// <summary>The producer's local transaction (the debit) committed: deliver the credit.</summary>
public sealed record CommitTransfer(Guid TransferId);

/// <summary>The producer's local transaction did not commit: the half message is dropped.</summary>
public sealed record RollbackTransfer(Guid TransferId, string Reason);
