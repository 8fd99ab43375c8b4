using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>
/// The consumer's side: credits once per transfer however often the command arrives, and confirms
/// every time. Failures go through the retry and redelivery of <see cref="CreditAccountConsumerDefinition"/>.
/// </summary>
public sealed class CreditAccountConsumer(
    LedgerDatabase ledger,
    FaultInjector faults,
    ILogger<CreditAccountConsumer> logger) : IConsumer<CreditAccount>
{
    public async Task Consume(ConsumeContext<CreditAccount> context)
    {
        var credit = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["TransferId"] = credit.TransferId });
        if (LedgerAmounts.Problem(credit.Amount) is { } problem)
        {
            throw new PermanentCreditFailure($"credit refused: {problem}");
        }
        faults.BeforeCredit(credit);

        var outcome = await ledger.Credit(credit.TransferId, credit.Purpose, credit.Account.AccountId, credit.Amount, context.CancellationToken);
        var coordinator = await context.GetSendEndpoint(Queues.CoordinatorAddress);
        if (outcome == CreditOutcome.Voided)
        {
            // Acknowledged, never retried, never applied: the coordinator voided this credit before a refund or resolve.
            logger.LogWarning("Credit to {Account} {Amount} refused: the transfer's credit was voided", credit.Account, credit.Amount);
            await coordinator.Send(new CreditVoided(credit.TransferId, credit.Account, credit.Amount, RefusedCopy: true), context.CancellationToken);
            return;
        }
        logger.LogDebug(outcome == CreditOutcome.Applied ? "Credited {Account} {Amount} ({Purpose})" : "Credit to {Account} {Amount} ({Purpose}) was applied before",
            credit.Account, credit.Amount, credit.Purpose);
        var retries = context.GetRetryAttempt() + context.GetRedeliveryCount();
        await coordinator.Send(new AccountCredited(credit.TransferId, credit.Account, credit.Amount, credit.Purpose, retries), context.CancellationToken);
    }
}

/// <summary>
/// The fence before a compensation: voids the transfer's credit unless it is applied already, and
/// answers which of the two holds. A repeat gives the same answer.
/// </summary>
public sealed class VoidCreditConsumer(LedgerDatabase ledger, ILogger<VoidCreditConsumer> logger) : IConsumer<VoidCredit>
{
    public async Task Consume(ConsumeContext<VoidCredit> context)
    {
        var request = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["TransferId"] = request.TransferId });
        var voided = await ledger.Void(request.TransferId, request.Account.AccountId, request.Amount, context.CancellationToken);
        logger.LogInformation(voided ? "Credit to {Account} voided" : "Credit to {Account} not voided: it was applied first", request.Account);
        var coordinator = await context.GetSendEndpoint(Queues.CoordinatorAddress);
        if (voided)
        {
            await coordinator.Send(new CreditVoided(request.TransferId, request.Account, request.Amount), context.CancellationToken);
        }
        else
        {
            await coordinator.Send(new AccountCredited(request.TransferId, request.Account, request.Amount), context.CancellationToken);
        }
    }
}

/// <summary>What a ledger accepts as an amount whatever its callers checked: positive, whole cents.</summary>
public static class LedgerAmounts
{
    public static string? Problem(decimal amount) =>
        amount <= 0 ? $"amount {amount} is not positive"
        : decimal.Round(amount, 2) != amount ? $"amount {amount} has more than two decimal places"
        : null;

    public static string? OpeningProblem(decimal openingBalance) =>
        openingBalance < 0 ? $"opening balance {openingBalance} is negative"
        : decimal.Round(openingBalance, 2) != openingBalance ? $"opening balance {openingBalance} has more than two decimal places"
        : null;
}

public sealed class CreditAccountConsumerDefinition(IOptions<LedgerOptions> options) : ConsumerDefinition<CreditAccountConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CreditAccountConsumer> consumerConfigurator, IRegistrationContext context)
    {
        // Outer: redelivery later through the durable scheduler; inner: immediate, then growing, retries in process.
        consumerConfigurator.UseScheduledRedelivery(r =>
        {
            r.Ignore<UnknownAccountException>();
            r.Ignore<PermanentCreditFailure>();
            r.Intervals(options.Value.CreditRedeliveryIntervals);
        });
        consumerConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<UnknownAccountException>();
            r.Ignore<PermanentCreditFailure>();
            r.Intervals(TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500));
        });
    }
}

/// <summary>A credit that fails for good, injected for tests and the demo.</summary>
public sealed class PermanentCreditFailure(string message) : Exception(message);

/// <summary>A credit that fails for now, injected for tests, the demo and chaos runs.</summary>
public sealed class TransientCreditFailure(string message) : Exception(message);

/// <summary>The consumer-side faults of <see cref="FaultInjectionOptions"/>, counted per transfer.</summary>
public sealed class FaultInjector(IOptions<FaultInjectionOptions> options)
{
    private readonly ConcurrentDictionary<Guid, int> _failures = new();

    public void BeforeCredit(CreditAccount credit)
    {
        var o = options.Value;
        if (!o.Enabled || credit.Purpose != CreditPurpose.Transfer)
        {
            return;
        }
        if (FaultInjectionOptions.Matches(o.FailPermanentlyTo, credit.Account.AccountId))
        {
            throw new PermanentCreditFailure($"fault injection: credits to {credit.Account} always fail");
        }
        if (o.TransientFailuresFor(credit.Account.AccountId) is > 0 and var failures && _failures.AddOrUpdate(credit.TransferId, 1, (_, n) => n + 1) <= failures)
        {
            throw new TransientCreditFailure($"fault injection: credit to {credit.Account} fails for now");
        }
        if (o.TransientFailureRate > 0 && Random.Shared.NextDouble() < o.TransientFailureRate)
        {
            throw new TransientCreditFailure("fault injection: random transient failure");
        }
    }
}
