using MassTransit;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

public sealed class OpenAccountConsumer(LedgerDatabase ledger) : IConsumer<OpenAccount>
{
    public async Task Consume(ConsumeContext<OpenAccount> context)
    {
        var m = context.Message;
        var (balance, opening, created) = await ledger.Open(m.AccountId, m.OpeningBalance, context.CancellationToken);
        if (!created && opening != m.OpeningBalance)
        {
            await context.RespondAsync(new AccountOpenRejected(m.Ledger, m.AccountId,
                $"account '{m.AccountId}' was opened with balance {opening}, not {m.OpeningBalance}"));
            return;
        }
        await context.RespondAsync(new AccountOpened(m.Ledger, m.AccountId, balance, created));
    }
}

public sealed class GetAccountConsumer(LedgerDatabase ledger) : IConsumer<GetAccount>
{
    public async Task Consume(ConsumeContext<GetAccount> context)
    {
        var m = context.Message;
        if (await ledger.Balance(m.AccountId, context.CancellationToken) is { } balance)
        {
            await context.RespondAsync(new AccountBalance(m.Ledger, m.AccountId, balance));
        }
        else
        {
            await context.RespondAsync(new AccountNotFound(m.Ledger, m.AccountId));
        }
    }
}
