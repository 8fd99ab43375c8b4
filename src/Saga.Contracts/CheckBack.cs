namespace Saga.Contracts;

/// <summary>
/// Sent by the coordinator's check-back scan when a transfer has stayed a half message past its due
/// time. <see cref="Attempt"/> is the check-back it asks for (1-based); a stale or repeated one is
/// recorded and ignored.
/// </summary>
public sealed record CheckBackDue(Guid TransferId, int Attempt);

/// <summary>
/// The coordinator asks the producer for the outcome of its local transaction. The producer looks it
/// up and never re-runs it.
/// </summary>
public sealed record CheckLocalTransaction(Guid TransferId, int Attempt, AccountRef From);

/// <summary>The producer's answer to <see cref="CheckLocalTransaction"/>.</summary>
public sealed record LocalTransactionChecked(Guid TransferId, int Attempt, LocalTransactionOutcome Outcome, string? Reason = null);

public enum LocalTransactionOutcome
{
    Unknown = 0,
    Committed = 1,
    RolledBack = 2,
}
