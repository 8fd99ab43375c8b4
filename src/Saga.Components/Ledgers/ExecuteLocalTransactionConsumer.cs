using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>
/// The producer's side of the transactional message. The coordinator sends this only once it holds the
/// half message, so the debit follows the half message; the local transaction (the debit and its
/// outcome record) runs once per transfer id, and a repeat answers the recorded outcome again. A
/// check-back's tombstone under the id, written first, means nothing is debited.
/// </summary>
public sealed class ExecuteLocalTransactionConsumer(
    LedgerDatabase ledger,
    IOptions<LedgerOptions> options,
    IOptions<FaultInjectionOptions> faults,
    ILogger<ExecuteLocalTransactionConsumer> logger) : IConsumer<ExecuteLocalTransaction>
{
    public async Task Consume(ConsumeContext<ExecuteLocalTransaction> context)
    {
        var transfer = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["TransferId"] = transfer.TransferId });
        var coordinator = await context.GetSendEndpoint(Queues.CoordinatorAddress);

        // Checked again where the money moves, whatever the Api checked: refused without a record, so a
        // check-back's tombstone makes the rollback exact.
        var refusal = !string.Equals(transfer.From.Ledger, options.Value.Id, StringComparison.OrdinalIgnoreCase)
            ? $"ledger {options.Value.Id} does not hold {transfer.From}"
            : LedgerAmounts.Problem(transfer.Amount);
        if (refusal is not null)
        {
            logger.LogWarning("Local transaction refused: {Reason}", refusal);
            await coordinator.Send(new RollbackTransfer(transfer.TransferId, refusal), context.CancellationToken);
            return;
        }

        var local = await ledger.RunLocalTransaction(transfer, context.CancellationToken);
        logger.LogDebug("Local transaction {Outcome} {Reason}", local.Outcome, local.Reason);
        if (local.FromAccount is not null && !local.Matches(transfer))
        {
            // The coordinator holds one body per id, so this is a record it never asked for: a person looks.
            logger.LogError("The local transaction recorded under this id is of another transfer: answering its recorded outcome");
        }

        if (faults.Value.Enabled && FaultInjectionOptions.Matches(faults.Value.SkipCommitFrom, transfer.From.AccountId))
        {
            logger.LogWarning("Fault injection: no Commit/Rollback sent after the local transaction");
            return;
        }
        if (local.Outcome == LocalTransactionOutcome.Committed)
        {
            await coordinator.Send(new CommitTransfer(transfer.TransferId), context.CancellationToken);
        }
        else
        {
            await coordinator.Send(new RollbackTransfer(transfer.TransferId, local.Reason ?? "rolled back"), context.CancellationToken);
        }
    }
}
