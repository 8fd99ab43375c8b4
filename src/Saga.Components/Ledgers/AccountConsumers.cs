using MassTransit;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>Opens an account for its owner, once: opening it again with the same balance and owner finds it open.</summary>
public sealed class OpenAccountConsumer(LedgerDatabase ledger) : IConsumer<OpenAccount>
{
    public async Task Consume(ConsumeContext<OpenAccount> context)
    {
        var m = context.Message;
        // Checked again where the account is made, whatever the Api checked: an account nobody owns could never be debited.
        var refusal = AccountIds.Error(m.AccountId, "accountId")
            ?? (string.IsNullOrWhiteSpace(m.Owner) ? "an account is opened for an owner" : LedgerAmounts.OpeningProblem(m.OpeningBalance));
        if (refusal is not null)
        {
            await context.RespondAsync(new AccountOpenRejected(m.Ledger, m.AccountId, refusal));
            return;
        }
        var opened = await ledger.Open(m.AccountId, m.OpeningBalance, m.Owner!, context.CancellationToken);
        if (!opened.Created && (opened.OpeningBalance != m.OpeningBalance || opened.Owner != m.Owner))
        {
            await context.RespondAsync(new AccountOpenRejected(m.Ledger, m.AccountId,
                $"account '{m.AccountId}' was opened with balance {opened.OpeningBalance} for another owner or balance"));
            return;
        }
        await context.RespondAsync(new AccountOpened(m.Ledger, m.AccountId, opened.Balance, opened.Created, opened.Owner));
    }
}

public sealed class GetAccountConsumer(LedgerDatabase ledger) : IConsumer<GetAccount>
{
    public async Task Consume(ConsumeContext<GetAccount> context)
    {
        var m = context.Message;
        if (await ledger.Account(m.AccountId, context.CancellationToken) is { } account)
        {
            await context.RespondAsync(new AccountBalance(m.Ledger, m.AccountId, account.Balance, account.Owner));
        }
        else
        {
            await context.RespondAsync(new AccountNotFound(m.Ledger, m.AccountId));
        }
    }
}

/// <summary>
/// A page of what this ledger did to an account, from its own records. The request is checked again here,
/// whatever the Api checked; an account the viewer does not own is answered as one that does not exist.
/// </summary>
public sealed class ListAccountTransfersConsumer(LedgerDatabase ledger) : IConsumer<ListAccountTransfers>
{
    public async Task Consume(ConsumeContext<ListAccountTransfers> context)
    {
        var m = context.Message;
        var before = AccountTransfersCursor.Parse(m.Before);
        var refusal = AccountIds.Error(m.AccountId, "accountId")
            ?? (m.Take is < 1 or > ListAccountTransfers.MaxTake ? $"take must be 1 to {ListAccountTransfers.MaxTake}" : null)
            ?? (m.Before is not null && before is null ? "before is not a cursor this ledger gave" : null);
        if (refusal is not null)
        {
            await context.RespondAsync(new AccountTransfersRefused(m.Ledger, m.AccountId, refusal));
            return;
        }
        if (await ledger.Account(m.AccountId, context.CancellationToken) is not { } account || (m.Viewer is not null && account.Owner != m.Viewer))
        {
            await context.RespondAsync(new AccountNotFound(m.Ledger, m.AccountId));
            return;
        }
        // One more than asked: whether there is a next page.
        var found = await ledger.AccountTransfers(m.AccountId, before, m.Take + 1, context.CancellationToken);
        var page = found.Take(m.Take).ToList();
        await context.RespondAsync(new AccountTransfers(m.Ledger, m.AccountId, account.Balance, account.Owner,
            [.. page.Select(f => f.Transfer)], found.Count > m.Take ? page[^1].Position.ToString() : null));
    }
}
