using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Saga.Components.Security;

namespace Saga.Cli;

public sealed record TransferView(Guid TransferId, string State, decimal Amount, int CheckBacks, string? Reason, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record EventView(long Version, string Type, DateTimeOffset Timestamp, JsonElement Data);

public sealed record AccountView(string Ledger, string AccountId);

/// <summary>One transfer of a listing by state.</summary>
public sealed record ListedTransfer(Guid TransferId, string State, AccountView From, AccountView To, string? Reason, DateTimeOffset UpdatedAt);

/// <summary>One client for each Api instance, the load spread over them; a retry goes to the next one.</summary>
public sealed class ApiClients(IEnumerable<string> baseAddresses, string subject, int connections = 64) : IDisposable
{
    private readonly ApiClient[] _clients = baseAddresses.Select(a => new ApiClient(a, subject, connections)).ToArray();

    public ApiClient this[int i] => _clients[(int)((uint)i % (uint)_clients.Length)];

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}

/// <summary>The Api as a client sees it, with a development token.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _subject;

    public ApiClient(string baseAddress, string subject, int connections = 64)
    {
        _subject = subject;
        var sockets = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        _http = new HttpClient(new DevelopmentTokenHandler(subject) { InnerHandler = sockets })
        {
            BaseAddress = new Uri(baseAddress),
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>A development token on every request, a new one at half its life: a bench or chaos run may outlast one.</summary>
    private sealed class DevelopmentTokenHandler(string subject) : DelegatingHandler
    {
        private Issued? _current; // replaced whole: concurrent requests see one token or the next, never half of each

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var current = _current;
            if (current is null || DateTime.UtcNow >= current.RenewAt)
            {
                _current = current = new Issued(DevelopmentTokens.Create(subject, [Roles.Transfers, Roles.Operator], DevelopmentTokens.Lifetime),
                    DateTime.UtcNow + DevelopmentTokens.Lifetime / 2);
            }
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", current.Token);
            return base.SendAsync(request, cancellationToken);
        }

        private sealed record Issued(string Token, DateTime RenewAt);
    }

    /// <summary>Opens the account for this client's subject, so that its transfers may debit it.</summary>
    public async Task OpenAccount(string ledger, string accountId, decimal balance, CancellationToken cancellationToken = default)
    {
        var response = await _http.PostAsJsonAsync($"/ledgers/{ledger}/accounts", new { accountId, openingBalance = balance, owner = _subject }, cancellationToken);
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

    /// <summary>One page of the transfers in <paramref name="state"/>, the most recently changed first, and the cursor of the next.</summary>
    public async Task<(IReadOnlyList<ListedTransfer> Items, string? Next)> List(string state, string? after, int limit, CancellationToken cancellationToken = default)
    {
        var query = $"/transfers?state={Uri.EscapeDataString(state)}&limit={limit}" + (after is null ? "" : $"&after={Uri.EscapeDataString(after)}");
        var page = await _http.GetFromJsonAsync<TransferPage>(query, cancellationToken);
        return (page?.Items ?? [], page?.Next);
    }

    /// <summary>A repair as an operator asks for it: the status code, and the body when it was refused.</summary>
    public async Task<(HttpStatusCode Status, string? Problem)> TryRepair(Guid id, string action, string reason, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync($"/transfers/{id}/{action}", new { reason }, cancellationToken);
        return (response.StatusCode, response.IsSuccessStatusCode ? null : await response.Content.ReadAsStringAsync(cancellationToken));
    }

    public void Dispose() => _http.Dispose();

    private sealed record TransferPage(List<ListedTransfer> Items, string? Next);

    private static async Task Ensure(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
