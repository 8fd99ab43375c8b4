using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Text.Json;
using Saga.Components.Hosting;
using Saga.Contracts;

namespace Saga.Api;

/// <summary>The messages waiting in each of RabbitMQ's *_error queues, as the broker's management API counted them.</summary>
public sealed record ErrorQueueDepths(IReadOnlyDictionary<string, long> Queues)
{
    public long Total => Queues.Values.Sum();
}

/// <summary>
/// saga.error_queue.messages{queue}: messages waiting in RabbitMQ's *_error queues (dead letters that
/// a person must look at), read from the broker's management API. The metric and the console's overview
/// share one read: however many scrapes and browsers ask, the broker is asked at most once per <see cref="Fresh"/>.
/// </summary>
public sealed class ErrorQueueMetrics : IDisposable
{
    /// <summary>How long one read of the broker answers every caller.</summary>
    public static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);

    private readonly Meter _meter = new(Telemetry.SagaMeter);
    private readonly HttpClient _http;
    private readonly string _vhost;
    private readonly Lock _lock = new();
    private Task<ErrorQueueDepths?>? _read;
    private long _readAt;

    public ErrorQueueMetrics(IConfiguration configuration)
    {
        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        _vhost = rabbit.VirtualHost;
        _http = rabbit.CreateManagementClient();
        _http.Timeout = TimeSpan.FromSeconds(2);
        _meter.CreateObservableGauge("saga.error_queue.messages", Measure, description: "Messages in RabbitMQ error queues");
    }

    /// <summary>The error queues' depths, at most <see cref="Fresh"/> old; null when the broker's API does not answer.</summary>
    public Task<ErrorQueueDepths?> Read()
    {
        lock (_lock)
        {
            // A read in flight or recent answers everyone; a failed one is not kept, so the next caller asks again.
            if (_read is null || Stopwatch.GetElapsedTime(_readAt) >= Fresh || (_read.IsCompleted && (!_read.IsCompletedSuccessfully || _read.Result is null)))
            {
                _readAt = Stopwatch.GetTimestamp();
                _read = ReadBroker();
            }
            return _read;
        }
    }

    private async Task<ErrorQueueDepths?> ReadBroker()
    {
        JsonElement queues;
        try
        {
            queues = await _http.GetFromJsonAsync<JsonElement>($"api/queues/{Uri.EscapeDataString(_vhost)}?columns=name,messages").ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null; // the broker's API is unreachable: no figure rather than a wrong one
        }
        var depths = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var queue in queues.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString() ?? "";
            if (name.EndsWith(Queues.Error(""), StringComparison.Ordinal))
            {
                depths[name] = queue.TryGetProperty("messages", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt64() : 0;
            }
        }
        return new ErrorQueueDepths(depths);
    }

    private IEnumerable<Measurement<long>> Measure()
    {
        // The meter's callback is synchronous; the read it waits for is shared with the console.
        if (Read().GetAwaiter().GetResult() is not { } depths)
        {
            yield break;
        }
        foreach (var (queue, messages) in depths.Queues)
        {
            yield return new Measurement<long>(messages, new KeyValuePair<string, object?>("queue", queue));
        }
        // Error queues appear with their first fault; the total is there from the start.
        yield return new Measurement<long>(depths.Total, new KeyValuePair<string, object?>("queue", "all"));
    }

    public void Dispose()
    {
        _meter.Dispose();
        _http.Dispose();
    }
}
