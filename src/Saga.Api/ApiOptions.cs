namespace Saga.Api;

/// <summary>Configuration section "Api".</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>The ledgers transfers may name.</summary>
    public string[] Ledgers { get; set; } = [];

    /// <summary>The largest amount one transfer may move.</summary>
    public decimal MaxAmount { get; set; } = 1_000_000_000m;

    /// <summary>Request bodies above this many bytes are refused with 413.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024;

    /// <summary>Requests per second each caller may make (token bucket); more get 429.</summary>
    public int PermitsPerSecond { get; set; } = 5000;

    /// <summary>
    /// New transfers are refused with 503 and Retry-After while more half messages than this wait for the
    /// coordinator: a client told to come back later is better served than one whose transfer waits minutes.
    /// </summary>
    public int MaxWaitingTransfers { get; set; } = 2000;

    /// <summary>How long a request to a ledger or the coordinator may take before the Api answers 503.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Serve the API reference page at <c>/reference</c> (the OpenAPI document, readable and tryable). Null: in
    /// Development only. The page and its script come from the Api itself; nothing is fetched from elsewhere.
    /// </summary>
    public bool? ReferencePage { get; set; }

    /// <summary>
    /// The origins (e.g. <c>https://wallet.example</c>) whose pages may call the Api from a browser (CORS); none by
    /// default, and then no browser page of another origin can read an answer.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    public IEnumerable<string> KnownLedgers => Ledgers is { Length: > 0 } l ? l : ["A", "B"];
}
