using System.Net;
using System.Net.Http.Headers;
using Saga.ApiClient;
using Saga.Components.Security;

namespace Saga.Cli;

/// <summary>One connection to each Api instance, the load spread over them; a retry goes to the next one.</summary>
public sealed class ApiConnections(IEnumerable<string> baseAddresses, string subject, int connections = 64) : IDisposable
{
    private readonly ApiConnection[] _apis = baseAddresses.Select(a => new ApiConnection(a, subject, connections)).ToArray();

    public ApiConnection this[int i] => _apis[(int)((uint)i % (uint)_apis.Length)];

    public void Dispose()
    {
        foreach (var api in _apis)
        {
            api.Dispose();
        }
    }
}

/// <summary>
/// An Api instance through <see cref="SagaApiClient"/>, the client generated from its document, over our own
/// transport: pooled connections and a development token for the subject.
/// </summary>
public sealed class ApiConnection : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _subject;

    public ApiConnection(string baseAddress, string subject, int connections = 64)
    {
        _subject = subject;
        var sockets = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        _http = new HttpClient(new DevelopmentTokenHandler(subject) { InnerHandler = sockets })
        {
            // The generated paths are relative ("transfers/{id}"): they resolve under a base address that ends with '/'.
            BaseAddress = new Uri(baseAddress.EndsWith('/') ? baseAddress : baseAddress + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        // Then a refusal's SagaApiException carries the problem as the Api wrote it, not only its status.
        Client = new SagaApiClient(_http) { ReadResponseAsString = true };
    }

    public SagaApiClient Client { get; }

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

    /// <summary>Opens the account for this connection's subject, so that its transfers may debit it.</summary>
    public Task OpenAccount(string ledger, string accountId, decimal balance, CancellationToken cancellationToken = default) =>
        Client.OpenAccountAsync(ledger, new OpenAccountRequest { AccountId = accountId, OpeningBalance = balance, Owner = _subject }, cancellationToken);

    /// <summary>Submits a transfer; (id, state) when accepted, or the status code and problem when not.</summary>
    public async Task<(Guid? Id, string? State, HttpStatusCode Status, string? Problem)> Submit(
        string key, string fromLedger, string from, string toLedger, string to, decimal amount, CancellationToken cancellationToken = default)
    {
        try
        {
            // From and To are filled in, not replaced: the generated request comes with both.
            var accepted = await Client.SubmitTransferAsync(key, new TransferRequest
            {
                From = { Ledger = fromLedger, AccountId = from },
                To = { Ledger = toLedger, AccountId = to },
                Amount = amount,
            }, cancellationToken);
            return (accepted.TransferId, accepted.State, HttpStatusCode.Accepted, null);
        }
        catch (SagaApiException refused)
        {
            return (null, null, (HttpStatusCode)refused.StatusCode, refused.Response);
        }
    }

    /// <summary>The transfer as the Api reads it now, or null when it does not answer with it (404, 503, ...).</summary>
    public async Task<TransferResponse?> Transfer(Guid id, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Client.GetTransferAsync(id, cancellationToken);
        }
        catch (SagaApiException)
        {
            return null;
        }
    }

    /// <summary>A repair as an operator asks for it (refund, resolve, retry-credit or recheck): the status code, and the problem when it was refused.</summary>
    public async Task<(HttpStatusCode Status, string? Problem)> TryRepair(Guid id, string action, string reason, CancellationToken cancellationToken = default)
    {
        var request = new RepairRequest { Reason = reason };
        try
        {
            await (action switch
            {
                "refund" => Client.RefundTransferAsync(id, request, cancellationToken),
                "resolve" => Client.ResolveTransferAsync(id, request, cancellationToken),
                "retry-credit" => Client.RetryCreditAsync(id, request, cancellationToken),
                "recheck" => Client.RecheckTransferAsync(id, request, cancellationToken),
                _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a repair of the Api"),
            });
            return (HttpStatusCode.Accepted, null);
        }
        catch (SagaApiException refused)
        {
            return ((HttpStatusCode)refused.StatusCode, refused.Response);
        }
    }

    public void Dispose() => _http.Dispose();
}
