using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Saga.Components.Security;

namespace Saga.Cli;

public sealed record TransferView(Guid TransferId, string State, decimal Amount, int CheckBacks, string? Reason, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record EventView(long Version, string Type, DateTimeOffset Timestamp, JsonElement Data);

/// <summary>The Api as a client sees it, with a development token.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(string baseAddress, string subject, int connections = 64)
    {
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(baseAddress),
            Timeout = TimeSpan.FromSeconds(30),
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            DevelopmentTokens.Create(subject, [Roles.Transfers, Roles.Operator], TimeSpan.FromHours(12)));
    }

    public async Task OpenAccount(string ledger, string accountId, decimal balance, CancellationToken cancellationToken = default)
    {
        var response = await _http.PostAsJsonAsync($"/ledgers/{ledger}/accounts", new { accountId, openingBalance = balance }, cancellationToken);
        await Ensure(response, $"open account {ledger}/{accountId}");
    }

    public async Task<decimal> Balance(string ledger, string accountId, CancellationToken cancellationToken = default)
    {
        var body = await _http.GetFromJsonAsync<JsonElement>($"/ledgers/{ledger}/accounts/{Uri.EscapeDataString(accountId)}", cancellationToken);
        return body.GetProperty("balance").GetDecimal();
    }

    /// <summary>Submits a transfer; (id, state) when accepted, or the status code and problem when not.</summary>
    public async Task<(Guid? Id, string? State, HttpStatusCode Status, string? Problem)> Submit(
        string key, string fromLedger, string from, string toLedger, string to, decimal amount, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/transfers")
        {
            Content = JsonContent.Create(new { from = new { ledger = fromLedger, accountId = from }, to = new { ledger = toLedger, accountId = to }, amount }),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.Accepted)
        {
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            return (body.GetProperty("transferId").GetGuid(), body.GetProperty("state").GetString(), response.StatusCode, null);
        }
        return (null, null, response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    public async Task<TransferView?> Transfer(Guid id, CancellationToken cancellationToken = default)
    {
        using var response = await _http.GetAsync($"/transfers/{id}", cancellationToken);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<TransferView>(cancellationToken) : null;
    }

    public async Task<IReadOnlyList<EventView>> Events(Guid id, CancellationToken cancellationToken = default) =>
        await _http.GetFromJsonAsync<List<EventView>>($"/transfers/{id}/events", cancellationToken) ?? [];

    public async Task Repair(Guid id, string action, string reason, CancellationToken cancellationToken = default)
    {
        var response = await _http.PostAsJsonAsync($"/transfers/{id}/{action}", new { reason }, cancellationToken);
        await Ensure(response, $"{action} {id}");
    }

    public void Dispose() => _http.Dispose();

    private static async Task Ensure(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
