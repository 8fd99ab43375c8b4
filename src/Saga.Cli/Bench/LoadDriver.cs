using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Saga.Cli;

/// <summary>The bench's clients: the accounts of a run, and transfers between them submitted through the Apis.</summary>
public static class LoadDriver
{
    /// <summary>
    /// Accounts <c>{run}-0</c> to <c>{run}-{accounts - 1}</c> in each ledger, with <see cref="OpeningBalance"/>.
    /// </summary>
    public static async Task OpenAccounts(ApiConnection api, string run, int accounts, IReadOnlyList<string> ledgers, CancellationToken cancellationToken) =>
        await Parallel.ForEachAsync(Enumerable.Range(0, accounts), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                foreach (var ledger in ledgers)
                {
                    await api.OpenAccount(ledger, $"{run}-{i}", OpeningBalance(ledgers, ledger), ct);
                }
            });

    /// <summary>
    /// Between two ledgers every transfer goes from the first to the second, which opens with nothing (the
    /// bench's A→B since its first figures, kept comparable); between more, every ledger pays and is paid.
    /// </summary>
    public static decimal OpeningBalance(IReadOnlyList<string> ledgers, string ledger) => ledgers.Count == 2 && ledger == ledgers[1] ? 0m : 1_000_000m;

    /// <summary>The ledgers of the next transfer: the first to the second of two, else a random ordered pair of distinct ledgers.</summary>
    public static (string From, string To) Route(IReadOnlyList<string> ledgers, Random random)
    {
        if (ledgers.Count == 2)
        {
            return (ledgers[0], ledgers[1]);
        }
        var from = random.Next(ledgers.Count);
        var to = random.Next(ledgers.Count - 1);
        return (ledgers[from], ledgers[to >= from ? to + 1 : to]);
    }

    /// <summary>
    /// Submits <paramref name="count"/> transfers between the accounts of <paramref name="run"/> from the
    /// bench's concurrent clients. Without a rate each client waits until its transfer's debit is decided
    /// (<paramref name="decided"/>) before the next: a closed loop, as when the Api answered only then.
    /// </summary>
    public static async Task<int> Submit(ApiConnections apis, BenchOptions options, IReadOnlyList<string> ledgers, int count, string run, string keyPrefix,
        ConcurrentDictionary<Guid, long> submitted, Func<Guid, CancellationToken, Task> decided, CancellationToken cancellationToken, Task? until = null)
    {
        var next = -1;
        var attempted = 0;
        var start = Stopwatch.GetTimestamp();
        var startedAt = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(async _ =>
        {
            var random = new Random();
            int i;
            while ((i = Interlocked.Increment(ref next)) < count || until is { IsCompleted: false })
            {
                Interlocked.Increment(ref attempted);
                // With --rate, transfer i is due at i/rate seconds: a fixed offered load, whatever the answers' pace.
                if (options.Rate > 0 && TimeSpan.FromSeconds(i / options.Rate) - Stopwatch.GetElapsedTime(start) is { Ticks: > 0 } wait)
                {
                    await Task.Delay(wait, cancellationToken);
                }
                var from = random.NextDouble() < options.Hot ? 0 : random.Next(options.Accounts);
                var to = random.Next(options.Accounts);
                var (fromLedger, toLedger) = Route(ledgers, random);
                // At a fixed rate, latency counts from when the transfer was due, so time spent waiting for a free client counts too.
                var at = options.Rate > 0 ? startedAt + TimeSpan.FromSeconds(i / options.Rate) : DateTimeOffset.UtcNow;
                var id = await SubmitWithRetries(apis, i, $"{keyPrefix}-{i}", fromLedger, $"{run}-{from}", toLedger, $"{run}-{to}", cancellationToken);
                if (id is { } accepted)
                {
                    submitted.TryAdd(accepted, at.UtcTicks);
                    if (options.Rate <= 0)
                    {
                        await decided(accepted, cancellationToken).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
                    }
                }
            }
        }));
        return attempted;
    }

    /// <summary>A client's retries: the same Idempotency-Key until an Api accepts or refuses for good, each attempt at the next Api.</summary>
    private static async Task<Guid?> SubmitWithRetries(ApiConnections apis, int i, string key, string fromLedger, string from, string toLedger, string to,
        CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        for (var attempt = 0; DateTime.UtcNow < deadline; attempt++)
        {
            try
            {
                var result = await apis[i + attempt].Submit(key, fromLedger, from, toLedger, to, 1.00m, cancellationToken);
                if (result.Id is { } id)
                {
                    return id;
                }
                if (result.Status is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError))
                {
                    return null;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // the Api restarting: send the same request again
            }
            await Task.Delay(250, cancellationToken);
        }
        return null;
    }
}
