using System.Collections.Concurrent;
using System.Net;
using Saga.ApiClient;

namespace Saga.Cli;

/// <summary>
/// A person at the Api during a chaos run, with the operator's token: every transfer of the run that
/// needs attention is refunded, or resolved with a reason, and again whenever it comes back to
/// NeedsAttention, until the run ends. Which of the two is drawn from the run's seed.
/// </summary>
public sealed class ChaosOperator(ApiConnections apis, int seed)
{
    /// <summary>
    /// A repair asked for at <paramref name="At"/>: accepted, or left without an answer (the Api or the
    /// coordinator timed out or restarted), in which case it may still have been carried out.
    /// </summary>
    public sealed record Repair(Guid TransferId, string Kind, DateTimeOffset At, string During, bool Accepted);

    private readonly ConcurrentQueue<Repair> _repairs = new();
    private readonly Random _random = new(seed);
    private int _next;
    private int _refused;
    private volatile string _during = "load";

    /// <summary>What is going on while the operator acts (a fault's name, or "load"), kept with each repair.</summary>
    public string During
    {
        get => _during;
        set => _during = value;
    }

    /// <summary>Every repair accepted or left without an answer, in the order they were asked for.</summary>
    public IReadOnlyList<Repair> Repairs => _repairs.OrderBy(r => r.At).ToArray();

    /// <summary>Repairs the coordinator refused because the transfer had moved on in the meantime.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public int Made(string kind, string during) => _repairs.Count(r => r.Kind == kind && r.During == during && r.Accepted);

    public async Task Run(string run, CancellationToken stop)
    {
        // Transfers of earlier runs that still need attention are older than this: paging stops at them.
        var since = DateTimeOffset.UtcNow.AddMinutes(-1);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var due = await NeedingAttention(run, since, stop);
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stop }, Act);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SagaApiException)
            {
                // an Api or the coordinator restarting: look again on the next round
            }
            await Task.Delay(500, stop).ContinueWith(_ => { }, CancellationToken.None);
        }
    }

    private async Task<List<TransferResponse>> NeedingAttention(string run, DateTimeOffset since, CancellationToken stop)
    {
        var found = new List<TransferResponse>();
        string? after = null;
        do
        {
            var page = await apis[Interlocked.Increment(ref _next)].Client.ListTransfersAsync(State.NeedsAttention, limit: 200, after, stop);
            found.AddRange(page.Items.Where(t => t.From.AccountId.StartsWith(run + "-", StringComparison.Ordinal)));
            after = page.Items.Count > 0 && page.Items[^1].UpdatedAt >= since ? page.Next : null;
        }
        while (after is not null);
        return found;
    }

    private async ValueTask Act(TransferResponse transfer, CancellationToken stop)
    {
        string kind;
        lock (_random)
        {
            kind = _random.Next(3) == 0 ? "resolve" : "refund";
        }
        var during = During;
        var at = DateTimeOffset.UtcNow;
        HttpStatusCode? status = null;
        try
        {
            string? problem;
            (status, problem) = await apis[Interlocked.Increment(ref _next)].TryRepair(transfer.TransferId, kind, Reason(kind, during), stop);
            if (status == HttpStatusCode.Conflict && kind == "refund" && problem?.Contains("nothing was debited", StringComparison.Ordinal) == true)
            {
                // The check-backs ran out before A answered: nothing to give back, the transfer is closed by hand.
                (kind, at, status) = ("resolve", DateTimeOffset.UtcNow, null);
                (status, _) = await apis[Interlocked.Increment(ref _next)].TryRepair(transfer.TransferId, kind, Reason(kind, during), stop);
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
        {
            // no answer: the next round looks again
        }
        switch (status)
        {
            case HttpStatusCode.Accepted:
                _repairs.Enqueue(new Repair(transfer.TransferId, kind, at, during, Accepted: true));
                break;
            case HttpStatusCode.Conflict:
                Interlocked.Increment(ref _refused);
                break;
            case HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                break;
            default:
                // A timeout or a restart on the way: the coordinator may have carried it out all the same.
                _repairs.Enqueue(new Repair(transfer.TransferId, kind, at, during, Accepted: false));
                break;
        }
    }

    private static string Reason(string kind, string during) => kind == "refund"
        ? $"chaos operator ({during}): the credit did not arrive, money back to the sender"
        : $"chaos operator ({during}): closed by hand, the debit is written off";
}
