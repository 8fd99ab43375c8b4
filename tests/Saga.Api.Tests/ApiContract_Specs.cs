using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Saga.Cli;

namespace Saga.Api.Tests;

/// <summary>
/// The document the Api serves is the contract its generated client (src/Saga.Api.Client) was built from, and it
/// passes Spectral's OpenAPI and OWASP API Security rulesets (tools/api-lint) with no error and no warning.
/// </summary>
public sealed class ApiContract_Specs(ApiSystem api) : IClassFixture<ApiSystem>
{
    /// <summary>Set to 1 to write the served document over the committed one (then review the diff: it is the Api's contract).</summary>
    private const string Accept = "SAGA_ACCEPT_API_DOCUMENT";

    private static string Root => LocalSystem.FindRoot();

    private static string Committed => Path.Combine(Root, "src", "Saga.Api.Client", "openapi.json");

    private async Task<string> Served()
    {
        using var client = api.Api.CreateClient();
        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task The_document_the_Api_serves_is_the_one_its_client_was_generated_from()
    {
        var served = JsonNode.Parse(await Served())!;
        if (Environment.GetEnvironmentVariable(Accept) == "1")
        {
            await File.WriteAllTextAsync(Committed, served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        var committed = JsonNode.Parse(await File.ReadAllTextAsync(Committed))!;
        Assert.True(JsonNode.DeepEquals(committed, JsonNode.Parse(Saga.ApiClient.ApiContract.Document)),
            $"{Committed} changed since Saga.Api.Client was built from it: build again");
        Assert.True(JsonNode.DeepEquals(served, committed),
            $"The Api serves another document than {Committed}, from which its client is generated. If the change is meant, " +
            $"run `{Accept}=1 dotnet test tests/Saga.Api.Tests --filter {nameof(ApiContract_Specs)}` and review the diff: it is the Api's contract.");
    }

    [Fact]
    public async Task Spectral_finds_no_error_and_no_warning_in_the_document()
    {
        var spectral = Path.Combine(Root, "tools", "api-lint", "node_modules", ".bin", "spectral");
        Assert.True(File.Exists(spectral), $"{spectral} is missing: run `bash infra/lint-tools.sh` (it installs Spectral from the npm registry)");
        // Beside the ruleset: Spectral matches its overrides' files relative to the ruleset's folder.
        var directory = Directory.CreateDirectory(Path.Combine(Root, "tools", "api-lint", "served", Guid.NewGuid().ToString("N")));
        try
        {
            var document = Path.Combine(directory.FullName, "openapi.json");
            var results = Path.Combine(directory.FullName, "results.json");
            await File.WriteAllTextAsync(document, await Served());
            var info = new ProcessStartInfo(spectral, ["lint", document, "--ruleset", Path.Combine(Root, "tools", "api-lint", ".spectral.yaml"),
                "--format", "json", "--output", results, "--quiet", "--fail-severity", "error"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            };
            info.Environment["SCARF_ANALYTICS"] = "false";
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(File.Exists(results), $"spectral wrote no results (exit {process.ExitCode}): {await stderr}");
            var found = JsonNode.Parse(await File.ReadAllTextAsync(results))!.AsArray()
                .Where(r => r!["severity"]!.GetValue<int>() <= 1) // 0 error, 1 warning; 2 information, 3 hint
                .Select(r => $"{(r!["severity"]!.GetValue<int>() == 0 ? "error" : "warning")} {r["code"]} at {string.Join(".", r["path"]!.AsArray().Select(p => p!.ToString()))}: {r["message"]}")
                .ToList();
            Assert.True(found.Count == 0, $"{found.Count} finding(s):\n{string.Join("\n", found)}");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
