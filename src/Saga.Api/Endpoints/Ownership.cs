using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>
/// Who may see what. An account is its owner's: only the owner debits it (its ledger checks that where the
/// money moves) and reads it. A transfer is seen by the caller who asked for it and by the owners of its two
/// accounts. Operators see everything. Whatever a caller may not see is answered as if it did not exist.
/// </summary>
internal static class Ownership
{
    public static bool IsOperator(HttpContext http) => http.User.IsInRole(Roles.Operator);

    public static bool MaySeeAccount(HttpContext http, string? owner) => IsOperator(http) || owner == Http.Caller(http);

    /// <summary>The caller asked for the transfer, owns one of its accounts (asked of their ledgers), or is an operator.</summary>
    public static async Task<bool> MaySeeTransfer(HttpContext http, TransferStatus transfer, IScopedClientFactory clients, IOptions<ApiOptions> options)
    {
        var caller = Http.Caller(http);
        if (IsOperator(http) || transfer.Initiator == caller)
        {
            return true;
        }
        foreach (var account in new[] { transfer.From, transfer.To }.Where(a => options.Value.KnownLedgers.Contains(a.Ledger)))
        {
            var response = await clients.CreateRequestClient<GetAccount>(Queues.LedgerAccountsAddress(account.Ledger))
                .GetResponse<AccountBalance, AccountNotFound>(new GetAccount(account.Ledger, account.AccountId), http.RequestAborted, options.Value.RequestTimeout);
            if (response.Is(out Response<AccountBalance>? balance) && balance.Message.Owner == caller)
            {
                return true;
            }
        }
        return false;
    }
}
