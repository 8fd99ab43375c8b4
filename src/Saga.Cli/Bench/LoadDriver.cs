using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Saga.Cli;

/// <summary>The bench's clients: the accounts of a run, and transfers between them submitted through the Apis.</summary>
public static class LoadDriver
{
    /// <summary>Accounts <c>{run}-0</c> to <c>{run}-{accounts - 1}</c> in each ledger: a million in A, nothing in B.</summary>
    public static async Task OpenAccounts(ApiClient api, string run, int accounts, CancellationToken cancellationToken) =>
        await Parallel.ForEachAsync(Enumerable.Range(0, accounts), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                await api.OpenAccount("A", $"{run}-{i}", 1_000_000m, ct);
                await api.OpenAccount("B", $"{run}-{i}", 0m, ct);
            });

    /// <summary>
    /// Submits <paramref name="count"/> transfers between the accounts of <paramref name="run"/> from the
    /// bench's concurrent clients. Without a rate each client waits until its transfer's debit is decided
    /// (<paramref name="decided"/>) before the next: a closed loop, as when the Api answered only then.
    /// </summary>
    public static async Task<int> Submit(ApiClients apis, BenchOptions options, int count, string run, string keyPrefix,
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
                // At a fixed rate, latency counts from when the transfer was due, so time spent waiting for a free client counts too.
                var at = options.Rate > 0 ? startedAt + TimeSpan.FromSeconds(i / options.Rate) : DateTimeOffset.UtcNow;
                var id = await SubmitWithRetries(apis, i, $"{keyPrefix}-{i}", $"{run}-{from}", $"{run}-{to}", cancellationToken);
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
    private static async Task<Guid?> SubmitWithRetries(ApiClients apis, int i, string key, string from, string to, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        for (var attempt = 0; DateTime.UtcNow < deadline; attempt++)
        {
            try
            {
                var result = await apis[i + attempt].Submit(key, "A", from, "B", to, 1.00m, cancellationToken);
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
