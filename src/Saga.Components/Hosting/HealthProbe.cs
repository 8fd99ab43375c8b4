using Microsoft.Extensions.Configuration;

namespace Saga.Components.Hosting;

/// <summary>
/// `healthcheck`: asks the host running beside it for /health/ready and exits 0 when it answers 200, 1 otherwise.
/// For a container's health check: the aspnet image has neither curl nor wget, but it has dotnet and this binary.
/// </summary>
public static class HealthProbe
{
    public static async Task<int> Run()
    {
        // The host's own Urls, as it reads them: appsettings.json beside the binary, then the environment.
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .Build();
        var url = configuration["Urls"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            ?? "http://127.0.0.1:8080";
        var listening = new UriBuilder(url.Replace("://+", "://localhost").Replace("://*", "://localhost"));
        if (listening.Host is "localhost" or "0.0.0.0" or "[::]")
        {
            listening.Host = "127.0.0.1";
        }
        listening.Path = "/health/ready";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(listening.Uri);
            Console.WriteLine($"{listening.Uri}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine($"{listening.Uri}: {e.Message}");
            return 1;
        }
    }
}
