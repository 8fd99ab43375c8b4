using Microsoft.Extensions.Configuration;
using Saga.Components.Security;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>The whole system as local processes until Ctrl+C, for trying the Api and the console by hand.</summary>
public static class Up
{
    /// <summary>
    /// The Api's port unless <c>--port</c> says otherwise: the one of the <c>Urls</c> its appsettings.json names (5080),
    /// so that bookmarks of the console and the reference page keep working.
    /// </summary>
    public static int DefaultPort() =>
        new Uri(new ConfigurationBuilder().AddJsonFile(Path.Combine(LocalSystem.FindRoot(), "src", "Saga.Api", "appsettings.json")).Build()["Urls"]
            ?? throw new InvalidOperationException("src/Saga.Api/appsettings.json names no Urls")).Port;

    public static async Task<int> Run(Broker broker, IReadOnlyList<string> ledgers, int port, CancellationToken cancellationToken)
    {
        if (!HostProcess.IsFree(port))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Port {port} is taken (another `up`?): stop what listens there, or give another with --port N.[/]");
            return 2;
        }
        await using var system = LocalSystem.Create(broker: broker, ledgers: ledgers, apiPort: port);
        await system.Start(step => AnsiConsole.MarkupLineInterpolated($"[grey]{step}[/]"), cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"Api: {system.Api.BaseAddress} (OpenAPI: {system.Api.BaseAddress}/openapi/v1.json, reference: {system.Api.BaseAddress}/reference), logs in .run/logs");
        await StayUp(system, cancellationToken);
        return 0;
    }

    /// <summary>Prints the console's address and a sign-in for it, then waits for Ctrl+C (the caller stops the hosts).</summary>
    public static async Task StayUp(LocalSystem system, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLineInterpolated($"Console: {ConsoleUrl(system)} (sign in by pasting the token below)");
        AnsiConsole.WriteLine("A development token (roles transfers, operator) for an hour; `dotnet run --project src/Saga.Api -- dev-token` makes more:");
        Console.WriteLine(DevelopmentTokens.Create("developer", [Roles.Transfers, Roles.Operator], DevelopmentTokens.Lifetime));
        AnsiConsole.MarkupLine("Ctrl+C stops the hosts.");
        await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
    }

    public static string ConsoleUrl(LocalSystem system) => $"{system.Api.BaseAddress}/console";
}
