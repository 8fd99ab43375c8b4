using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>
/// The producer's side of the transactional message: half message first (no acknowledgement, no
/// debit), then the local transaction, then Commit or Rollback. A repeated request debits once.
/// </summary>
public sealed class SubmitTransferConsumer(
    LedgerDatabase ledger,
    IRequestClient<StoreHalfMessage> coordinator,
    IOptions<LedgerOptions> options,
    IOptions<FaultInjectionOptions> faults,
    ILogger<SubmitTransferConsumer> logger) : IConsumer<SubmitTransfer>
{
    private const string ReusedId = "this transfer id was used for a different transfer";

    public async Task Consume(ConsumeContext<SubmitTransfer> context)
    {
        var transfer = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["TransferId"] = transfer.TransferId });
        if (!string.Equals(transfer.From.Ledger, options.Value.Id, StringComparison.OrdinalIgnoreCase))
        {
            await context.RespondAsync(new TransferRejected(transfer.TransferId, $"ledger {options.Value.Id} does not hold {transfer.From}", TransferRejectionKind.WrongLedger));
            return;
        }
        if (LedgerAmounts.Problem(transfer.Amount) is { } problem)
        {
            await context.RespondAsync(new TransferRejected(transfer.TransferId, $"transfer refused: {problem}", TransferRejectionKind.InvalidAmount));
            return;
        }

        // Until the source account is known to exist, one read refuses an unknown account before any half
        // message and answers a repeated request from its record. After that the read is skipped: a repeat
        // goes to the coordinator, which acknowledges the transfer it holds, and the local transaction
        // below finds the outcome recorded under the same id, with nothing debited twice.
        if (!ledger.IsKnownAccount(transfer.From.AccountId))
        {
            var (done, sourceExists) = await ledger.BeforeHalfMessage(transfer.TransferId, transfer.From.AccountId, context.CancellationToken);
            if (done is not null)
            {
                await Answer(context, done);
                return;
            }
            if (!sourceExists)
            {
                await context.RespondAsync(new TransferRejected(transfer.TransferId, $"unknown source account: ledger {options.Value.Id} has no '{transfer.From.AccountId}'", TransferRejectionKind.UnknownSourceAccount));
                return;
            }
        }

        Response<HalfMessageAcknowledged> ack;
        try
        {
            ack = await coordinator.GetResponse<HalfMessageAcknowledged>(
                new StoreHalfMessage(transfer.TransferId, transfer.From, transfer.To, transfer.Amount, transfer.Currency),
                context.CancellationToken, RequestTimeout.After(ms: (int)options.Value.HalfMessageTimeout.TotalMilliseconds));
        }
        catch (RequestTimeoutException)
        {
            logger.LogWarning("No acknowledgement of the half message: transfer refused, nothing debited");
            await context.RespondAsync(new TransferRejected(transfer.TransferId, "the coordinator did not acknowledge the half message", TransferRejectionKind.NotAcknowledged));
            return;
        }

        if (ack.Message.Conflict is not null)
        {
            // The id was first used for another transfer, whose own request may still be debiting: leave it alone.
            await context.RespondAsync(new TransferRejected(transfer.TransferId, ReusedId, TransferRejectionKind.IdReused));
            return;
        }
        if (ack.Message.State != TransferStates.Prepared)
        {
            // The coordinator decided this transfer already (a repeat, or one resolved by an operator): the
            // answer is the recorded outcome, made exact by a tombstone if there is none. Never a debit now.
            await Answer(context, await ledger.CheckBack(transfer.TransferId, context.CancellationToken));
            return;
        }

        var local = await ledger.RunLocalTransaction(
            new ExecuteLocalTransaction(transfer.TransferId, transfer.From, transfer.To, transfer.Amount, transfer.Currency), context.CancellationToken);
        if (local.FromAccount is not null && !local.Matches(new(transfer.TransferId, transfer.From, transfer.To, transfer.Amount, transfer.Currency)))
        {
            // A concurrent request with the same id and another body recorded its transfer first.
            await context.RespondAsync(new TransferRejected(transfer.TransferId, ReusedId, TransferRejectionKind.IdReused));
            return;
        }
        logger.LogDebug("Local transaction {Outcome} {Reason}", local.Outcome, local.Reason);

        if (faults.Value.Enabled && FaultInjectionOptions.Matches(faults.Value.SkipCommitFrom, transfer.From.AccountId))
        {
            logger.LogWarning("Fault injection: no Commit/Rollback sent after the local transaction");
        }
        else
        {
            var endpoint = await context.GetSendEndpoint(Queues.CoordinatorAddress);
            if (local.Outcome == LocalTransactionOutcome.Committed)
            {
                await endpoint.Send(new CommitTransfer(transfer.TransferId), context.CancellationToken);
            }
            else
            {
                await endpoint.Send(new RollbackTransfer(transfer.TransferId, local.Reason ?? "rolled back"), context.CancellationToken);
            }
        }
        await context.RespondAsync(new TransferSubmitted(transfer.TransferId, local.Outcome, local.Reason));
    }

    /// <summary>
    /// A repeat answered from the recorded outcome. A tombstone (FromAccount null) is the check-back's
    /// rollback of this very transfer; a record of another body means the id was reused.
    /// </summary>
    private static Task Answer(ConsumeContext<SubmitTransfer> context, LocalTransaction recorded)
    {
        var transfer = context.Message;
        return recorded.FromAccount is null || recorded.Matches(new(transfer.TransferId, transfer.From, transfer.To, transfer.Amount, transfer.Currency))
            ? context.RespondAsync(new TransferSubmitted(transfer.TransferId, recorded.Outcome, recorded.Reason))
            : context.RespondAsync(new TransferRejected(transfer.TransferId, ReusedId, TransferRejectionKind.IdReused));
    }
}
