namespace Saga.ApiClient;

/// <summary>The document the client was generated from, as committed: to compare with the one an Api serves.</summary>
public static class ApiContract
{
    public static string Document { get; } = Read();

    private static string Read()
    {
        using var stream = typeof(ApiContract).Assembly.GetManifestResourceStream("Saga.Api.openapi.json")
            ?? throw new InvalidOperationException("Saga.Api.openapi.json is not embedded in " + typeof(ApiContract).Assembly.GetName().Name);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
