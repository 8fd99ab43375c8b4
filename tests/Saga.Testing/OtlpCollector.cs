using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Saga.Testing;

/// <summary>
/// Receives the hosts' OTLP/HTTP trace exports and keeps the raw payloads: a trace id is 16 raw bytes
/// in them, and each export names its service, so "which services saw this trace" needs no decoder.
/// </summary>
public sealed class OtlpCollector : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<byte[]> _payloads = new();

    public OtlpCollector()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(Receive);
    }

    public int Port { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Environment that makes a host export its spans here, promptly.</summary>
    public Dictionary<string, string> Environment => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf", ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };

    /// <summary>The services whose exported spans carry <paramref name="traceId"/>.</summary>
    public IReadOnlySet<string> ServicesIn(string traceId, IEnumerable<string> services)
    {
        var id = Convert.FromHexString(traceId);
        var seen = new HashSet<string>();
        foreach (var payload in _payloads)
        {
            if (payload.AsSpan().IndexOf(id) >= 0)
            {
                foreach (var service in services.Where(s => payload.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(s)) >= 0))
                {
                    seen.Add(service);
                }
            }
        }
        return seen;
    }

    private async Task Receive()
    {
        while (_listener.IsListening)
        {
            try
            {
                var context = await _listener.GetContextAsync();
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _payloads.Enqueue(body.ToArray());
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
        }
    }

    public void Dispose() => _listener.Close();
}
