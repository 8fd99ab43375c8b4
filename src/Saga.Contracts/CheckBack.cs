namespace Saga.Contracts;

/// <summary>
/// Sent by the coordinator's check-back scan when a transfer's next step is due: a half message waited
/// past its check-back time, or a credit, void or refund was not confirmed in time and is sent again.
/// <see cref="Attempt"/> is the check-back it asks for (1-based); a stale or repeated one is recorded and has no effect.
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
