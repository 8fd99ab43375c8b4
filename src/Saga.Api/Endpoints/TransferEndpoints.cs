using System.Security.Cryptography;
using System.Text;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Saga.Components.Hosting;
using Saga.Components.Security;
using Saga.Components.EventStore;
using Saga.Contracts;

namespace Saga.Api.Endpoints;

/// <summary>
/// Transfers: submitted as a half message to the coordinator (the Api is the producer's front door),
/// read from the coordinator's event store, repaired through the coordinator. The Api never touches a
/// ledger's tables.
/// </summary>
public static class TransferEndpoints
{
    private const string Currency = "EUR";

    public static void MapTransferEndpoints(this IEndpointRouteBuilder app)
    {
        var transfers = app.MapGroup("/transfers").WithTags("Transfers");
        transfers.MapPost("", Submit).RequireAuthorization(Roles.Transfers)
            .WithName("SubmitTransfer")
            .WithSummary("Submit a transfer")
            .WithDescription("Stores the transfer's half message with the coordinator and answers at once: the transfer then moves on " +
                             "without the caller (GET its Location). Sent again with the same Idempotency-Key and body, it names the same transfer.")
            .WithIdempotencyKey()
            .WithJsonBody<TransferRequest>()
            .Produces<TransferAccepted>(StatusCodes.Status202Accepted)
            .Problems(
                (400, "A missing or malformed field, or Idempotency-Key (each named in `errors`)"),
                (409, "The Idempotency-Key was used for another body"),
                (413, "The body is larger than the Api accepts"),
                (415, "The body is not JSON"),
                (422, "An unknown ledger, or the same account on both sides"),
                (503, "Too many transfers wait for the coordinator, or the transfer could not be recorded or sent: send it again with the same key"));
        transfers.MapGet("/{transferId:guid}", Get).RequireAuthorization(Roles.Transfers)
            .WithName("GetTransfer")
            .WithSummary("Read a transfer")
            .WithDescription("Its state now, from the coordinator's view. Anyone but an operator sees only the transfers it submitted.")
            .Produces<TransferResponse>()
            .Problems((404, "No such transfer, or not one the caller may see"), (503, "The store of transfers cannot be read now"));
        transfers.MapGet("/{transferId:guid}/events", Events).RequireAuthorization(Roles.Transfers)
            .WithName("GetTransferEvents")
            .WithSummary("Read a transfer's history")
            .WithDescription("Every event on the transfer's stream, oldest first: each state it passed through and why.")
            .Produces<TransferEvent[]>()
            .Problems((404, "No such transfer, or not one the caller may see"), (503, "The store of transfers cannot be read now"));
        transfers.MapGet("", List).RequireAuthorization(Roles.Transfers)
            .WithName("ListTransfers")
            .WithSummary("List transfers in a state")
            .WithDescription("Newest change first, a page at a time (`next` is the `after` of the next page). Operators see every transfer, " +
                             "anyone else the transfers it submitted.")
            .WithListingQuery()
            .Produces<TransferPage>()
            .Problems((400, "An unknown, repeated or malformed parameter (each named in `errors`)"), (503, "The store of transfers cannot be read now"));
        MapRepair(transfers, Repairs.RetryCredit, "RetryCredit", "Send the credit again",
            "For a transfer that needs attention after its credit failed: the destination ledger is asked to credit again (at most once in all).");
        MapRepair(transfers, Repairs.Recheck, "RecheckTransfer", "Check back with the source ledger again",
            "For a transfer that needs attention after its check-backs ran out: the source ledger is asked again whether it debited.");
        MapRepair(transfers, Repairs.Refund, "RefundTransfer", "Refund the debit",
            "For a transfer that needs attention after a debit whose credit cannot be applied: the credit is voided at the destination, then the source is credited back.");
        MapRepair(transfers, Repairs.Resolve, "ResolveTransfer", "Close the transfer as it stands",
            "For a transfer that needs attention whose money is already where it belongs: recorded as resolved, with the reason.");
    }

    private static void MapRepair(RouteGroupBuilder transfers, string repair, string operationId, string summary, string description) =>
        transfers.MapPost($"/{{transferId:guid}}/{repair}", (Guid transferId, HttpRequest r, IOptions<ApiOptions> o) => Repair(transferId, repair, r, o))
            .RequireAuthorization(Roles.Operator)
            .WithName(operationId)
            .WithSummary(summary)
            .WithDescription(description + " The coordinator decides on the transfer's recorded state; the repair is on its stream.")
            .WithJsonBody<RepairRequest>()
            .Produces<TransferAccepted>(StatusCodes.Status202Accepted)
            .Problems(
                (400, "The reason is missing or malformed"),
                (404, "No such transfer"),
                (409, "The transfer is not in a state that allows this repair (its state is in `state`)"),
                (413, "The body is larger than the Api accepts"),
                (415, "The body is not JSON"),
                (503, "The coordinator did not answer in time: read the transfer, and send the repair again if it has not changed"));

    private static async Task<IResult> Submit(HttpRequest request, SubmittedTransfers submitted, ISendEndpointProvider broker, IQuerySession session,
        QueueBacklog waiting, IOptions<ApiOptions> options)
    {
        if (waiting.IsOver)
        {
            return Http.Problem(503, "Too many transfers are waiting", $"{waiting.Messages} new transfers wait for the coordinator; send this request again in a second.");
        }
        var key = request.Headers[TransferValidation.IdempotencyKeyHeader].ToString();
        if (TransferValidation.IdempotencyKey(key) is { } invalidKey)
        {
            return invalidKey;
        }
        var (body, problem) = await Http.ReadBody<TransferRequest>(request, options);
        if (problem is not null)
        {
            return problem;
        }
        if (TransferValidation.Transfer(body!, options.Value) is { } invalid)
        {
            return invalid;
        }
        var from = new AccountRef(body!.From!.Ledger!, body.From.AccountId!);
        var to = new AccountRef(body.To!.Ledger!, body.To.AccountId!);
        var amount = body.Amount!.Value;
        var cancellationToken = request.HttpContext.RequestAborted;

        // The key is scoped to the caller: the same key from two callers names two transfers. The record
        // is durable before the half message leaves, so a key reused with another body is refused here.
        var transferId = TransferIdFor(Http.Caller(request.HttpContext), key);
        Submission submission;
        try
        {
            submission = await submitted.Record(transferId, SubmittedTransfers.Fingerprint(from, to, amount, Currency), cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            return Unavailable(transferId, "The Api cannot record the transfer");
        }
        if (submission == Submission.Conflict)
        {
            return Http.Problem(409, "The Idempotency-Key was used for a different transfer",
                $"the key '{key}' names transfer {transferId}, submitted with another body");
        }

        // Sent again on a repeat: the coordinator holds one half message per transfer, and asks the
        // source ledger again only while the transfer is still Prepared.
        try
        {
            var coordinator = await broker.GetSendEndpoint(Queues.HalfMessagesAddress);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Value.RequestTimeout);
            await coordinator.Send(new StoreHalfMessage(transferId, from, to, amount, Currency, Http.Caller(request.HttpContext)), timeout.Token);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return Unavailable(transferId, "The half message could not be sent");
        }
        var state = submission == Submission.Repeat && await TransferViews.Load(session, transferId, cancellationToken) is { } known
            ? known.State
            : TransferStates.Prepared;
        return TypedResults.Accepted($"/transfers/{transferId}", new TransferAccepted(transferId, state));
    }

    private static IResult Unavailable(Guid transferId, string title) =>
        Http.Problem(503, title, "The transfer may or may not have been accepted; send the same request with the same Idempotency-Key again: it names one transfer, which debits at most once.",
            new Dictionary<string, object?> { ["transferId"] = transferId });

    private static async Task<IResult> Get(Guid transferId, HttpContext http, IQuerySession session, IScopedClientFactory clients, IOptions<ApiOptions> options,
        CancellationToken cancellationToken) =>
        await Visible(transferId, http, session, clients, options, cancellationToken) is { } transfer
            ? TypedResults.Ok(ToResponse(transfer))
            : NotFound(transferId);

    private static async Task<IResult> Events(Guid transferId, HttpContext http, IQuerySession session, IScopedClientFactory clients, IOptions<ApiOptions> options,
        CancellationToken cancellationToken)
    {
        if (await Visible(transferId, http, session, clients, options, cancellationToken) is null)
        {
            return NotFound(transferId);
        }
        var events = await session.Events.FetchStreamAsync(transferId, token: cancellationToken);
        return events.Count == 0
            ? NotFound(transferId)
            : TypedResults.Ok(events.Select(e => new TransferEvent(e.Version, e.Data.GetType().Name, e.Timestamp, e.Data)));
    }

    /// <summary>The transfer, if it exists and the caller may see it (<see cref="Ownership"/>).</summary>
    private static async Task<TransferStatus?> Visible(Guid transferId, HttpContext http, IQuerySession session, IScopedClientFactory clients,
        IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
        await TransferViews.Load(session, transferId, cancellationToken) is { } transfer && await Ownership.MaySeeTransfer(http, transfer, clients, options)
            ? transfer
            : null;

    /// <summary>
    /// Operators list every transfer in a state; anyone else the transfers it asked for. The query is read
    /// whole, not bound: a limit of "abc" or a repeated parameter is a 400 naming it.
    /// </summary>
    private static async Task<IResult> List(HttpRequest request, IQuerySession session, CancellationToken cancellationToken)
    {
        if (TransferValidation.Listing(request.Query, out var state, out var take, out var after) is { } invalid)
        {
            return invalid;
        }
        var initiator = Ownership.IsOperator(request.HttpContext) ? null : Http.Caller(request.HttpContext);
        var page = await TransferViews.Page(session, new TransferFilter(State: state, Initiator: initiator), after, take, cancellationToken);
        var next = page.Count == take ? TransferCursor.At(new TransferPosition(page[^1].UpdatedAt, page[^1].TransferId)) : null;
        return TypedResults.Ok(new TransferPage(page.Select(ToResponse).ToList(), next));
    }

    private static async Task<IResult> Repair(Guid transferId, string repair, HttpRequest request, IOptions<ApiOptions> options)
    {
        var (body, problem) = await Http.ReadBody<RepairRequest>(request, options);
        if (problem is not null)
        {
            return problem;
        }
        if (TransferValidation.RepairReason(body!) is { } invalid)
        {
            return invalid;
        }
        var answer = await Repairs.Ask(repair, transferId, Http.Caller(request.HttpContext), body!.Reason!, request.HttpContext, options.Value.RequestTimeout);
        return answer.Outcome switch
        {
            RepairOutcome.Accepted => TypedResults.Accepted($"/transfers/{transferId}", new TransferAccepted(transferId, answer.State!)),
            RepairOutcome.Rejected => Http.Problem(409, "The transfer is not in a state that allows this", answer.Reason!,
                new Dictionary<string, object?> { ["state"] = answer.State }),
            RepairOutcome.NoAnswer => Http.NoAnswer("The coordinator",
                $"The repair may or may not have been made: see GET /transfers/{transferId}, and send it again if the transfer has not changed."),
            _ => NotFound(transferId),
        };
    }

    /// <summary>The same caller and key always name the same transfer.</summary>
    internal static Guid TransferIdFor(string caller, string idempotencyKey)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{caller}\n{idempotencyKey}"));
        return new Guid(hash.AsSpan(0, 16));
    }

    private static IResult NotFound(Guid transferId) => Http.Problem(404, "No such transfer", $"there is no transfer {transferId}");

    private static TransferResponse ToResponse(TransferStatus t) => new(
        t.TransferId, t.State, new AccountBody(t.From.Ledger, t.From.AccountId), new AccountBody(t.To.Ledger, t.To.AccountId),
        t.Amount, t.CheckBacks, t.Reason, t.CreatedAt, t.UpdatedAt);
}
