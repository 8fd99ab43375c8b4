using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Saga.Components.Hosting;
using Saga.Contracts;

namespace Saga.Api;

/// <summary>
/// saga.error_queue.messages{queue}: messages waiting in RabbitMQ's *_error queues (dead letters that
/// a person must look at), read from the broker's management API when metrics are scraped.
/// </summary>
public sealed class ErrorQueueMetrics : IDisposable
{
    private readonly Meter _meter = new(Telemetry.SagaMeter);
    private readonly HttpClient _http;
    private readonly string _vhost;

    public ErrorQueueMetrics(IConfiguration configuration)
    {
        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        _vhost = rabbit.VirtualHost;
        _http = rabbit.CreateManagementClient();
        _http.Timeout = TimeSpan.FromSeconds(2);
        _meter.CreateObservableGauge("saga.error_queue.messages", Read, description: "Messages in RabbitMQ error queues");
    }

    private IEnumerable<Measurement<long>> Read()
    {
        JsonElement queues;
        try
        {
            queues = _http.GetFromJsonAsync<JsonElement>($"api/queues/{Uri.EscapeDataString(_vhost)}?columns=name,messages").GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            yield break; // the broker's API is unreachable: no figure rather than a wrong one
        }
        long total = 0;
        foreach (var queue in queues.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString() ?? "";
            if (name.EndsWith(Queues.Error(""), StringComparison.Ordinal))
            {
                var messages = queue.TryGetProperty("messages", out var m) ? m.GetInt64() : 0;
                total += messages;
                yield return new Measurement<long>(messages, new KeyValuePair<string, object?>("queue", name));
            }
        }
        // Error queues appear with their first fault; the total is there from the start.
        yield return new Measurement<long>(total, new KeyValuePair<string, object?>("queue", "all"));
    }

    public void Dispose()
    {
        _meter.Dispose();
        _http.Dispose();
    }
}
