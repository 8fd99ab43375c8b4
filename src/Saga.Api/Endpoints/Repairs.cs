using MassTransit;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

internal enum RepairOutcome { Accepted, Rejected, NotFound, NoAnswer }

/// <summary>The coordinator's answer to a repair: the transfer's state when accepted, the reason when rejected.</summary>
internal sealed record RepairAnswer(RepairOutcome Outcome, string? State = null, string? Reason = null);

/// <summary>
/// An operator's repair, asked of the coordinator: one path for the JSON endpoints and the console, so both
/// send the same command with the operator's sub, and the state machine alone decides whether it applies.
/// </summary>
internal static class Repairs
{
    public const string RetryCredit = "retry-credit";
    public const string Recheck = "recheck";
    public const string Refund = "refund";
    public const string Resolve = "resolve";

    public static IReadOnlyList<string> All { get; } = [RetryCredit, Recheck, Refund, Resolve];

    public static Task<RepairAnswer> Ask(string repair, Guid transferId, string @operator, string reason, HttpContext http, TimeSpan timeout)
    {
        var services = http.RequestServices;
        return repair switch
        {
            RetryCredit => Ask(services.GetRequiredService<IRequestClient<RetryCredit>>(), new RetryCredit(transferId, @operator, reason), http, timeout),
            Recheck => Ask(services.GetRequiredService<IRequestClient<RecheckTransfer>>(), new RecheckTransfer(transferId, @operator, reason), http, timeout),
            Refund => Ask(services.GetRequiredService<IRequestClient<RefundTransfer>>(), new RefundTransfer(transferId, @operator, reason), http, timeout),
            Resolve => Ask(services.GetRequiredService<IRequestClient<ResolveTransfer>>(), new ResolveTransfer(transferId, @operator, reason), http, timeout),
            _ => throw new ArgumentOutOfRangeException(nameof(repair), repair, "not a repair"),
        };
    }

    private static async Task<RepairAnswer> Ask<T>(IRequestClient<T> client, T command, HttpContext http, TimeSpan timeout) where T : class
    {
        Response<RepairAccepted, RepairRejected, TransferNotFound> response;
        try
        {
            response = await client.GetResponse<RepairAccepted, RepairRejected, TransferNotFound>(command, http.RequestAborted, timeout);
        }
        catch (RequestTimeoutException)
        {
            return new RepairAnswer(RepairOutcome.NoAnswer);
        }
        if (response.Is(out Response<RepairAccepted>? accepted))
        {
            return new RepairAnswer(RepairOutcome.Accepted, accepted.Message.State);
        }
        if (response.Is(out Response<RepairRejected>? rejected))
        {
            return new RepairAnswer(RepairOutcome.Rejected, rejected.Message.State, rejected.Message.Reason);
        }
        return new RepairAnswer(RepairOutcome.NotFound);
    }
}
