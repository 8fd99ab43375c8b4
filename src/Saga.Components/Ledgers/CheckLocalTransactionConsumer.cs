using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>
/// Answers the coordinator's check-back from the recorded outcome, never by running the local
/// transaction again. Unknown only when the ledger's own database cannot be asked.
/// </summary>
public sealed class CheckLocalTransactionConsumer(
    LedgerDatabase ledger,
    IOptions<FaultInjectionOptions> faults,
    ILogger<CheckLocalTransactionConsumer> logger) : IConsumer<CheckLocalTransaction>
{
    public async Task Consume(ConsumeContext<CheckLocalTransaction> context)
    {
        var check = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["TransferId"] = check.TransferId });
        LocalTransactionChecked answer;
        if (faults.Value.Enabled && FaultInjectionOptions.Matches(faults.Value.AnswerUnknownFrom, check.From.AccountId))
        {
            answer = new LocalTransactionChecked(check.TransferId, check.Attempt, LocalTransactionOutcome.Unknown, "fault injection");
        }
        else
        {
            try
            {
                var local = await ledger.CheckBack(check.TransferId, context.CancellationToken);
                answer = new LocalTransactionChecked(check.TransferId, check.Attempt, local.Outcome, local.Reason);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !context.CancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Check-back {Attempt} cannot read the ledger: answering Unknown", check.Attempt);
                answer = new LocalTransactionChecked(check.TransferId, check.Attempt, LocalTransactionOutcome.Unknown, "ledger database unavailable");
            }
        }
        logger.LogInformation("Check-back {Attempt} answered {Outcome}", check.Attempt, answer.Outcome);
        var coordinator = await context.GetSendEndpoint(Queues.CoordinatorAddress);
        await coordinator.Send(answer, context.CancellationToken);
    }
}
