using Saga.Cli;
using Spectre.Console;

// dotnet run -c Release --project src/Saga.Cli -- <verb>
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
// A service manager or `kill` stops the CLI as Ctrl+C does, so the hosts it started stop with it.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

if (Console.IsOutputRedirected)
{
    // A log keeps each line whole: a violation or a fault on one line, not broken at 80 columns.
    AnsiConsole.Profile.Width = 240;
}

try
{
    return args switch
    {
        ["demo", .. var options] when Options(options, ["--keep", "--cluster"], ["--ledgers"]) =>
            await Demo.Run(keep: options.Contains("--keep"), options.Contains("--cluster") ? Broker.Cluster : Broker.Single, LedgerIds.Parse(options), cancel.Token),
        ["up", .. var options] when Options(options, ["--cluster"], ["--ledgers", "--port"]) =>
            await Up.Run(options.Contains("--cluster") ? Broker.Cluster : Broker.Single, LedgerIds.Parse(options), Port(options), cancel.Token),
        ["bench", .. var options] => await Bench.Run(BenchOptions.Parse(options), cancel.Token),
        ["chaos", .. var options] => await Chaos.Run(ChaosOptions.Parse(options), cancel.Token),
        _ => Usage(),
    };
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    return 130;
}
catch (OptionException e)
{
    AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
    return 2;
}

// --port N: a TCP port for the Api, or Up.DefaultPort().
static int Port(string[] args)
{
    var i = Array.IndexOf(args, "--port");
    if (i < 0)
    {
        return Up.DefaultPort();
    }
    return i + 1 < args.Length && int.TryParse(args[i + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
        ? port
        : throw new OptionException($"--port needs a TCP port from 1 to 65535, not '{(i + 1 < args.Length ? args[i + 1] : "")}'");
}

// Only these flags, and these options each followed by its value.
static bool Options(string[] args, string[] flags, string[] withValue)
{
    for (var i = 0; i < args.Length; i++)
    {
        if (withValue.Contains(args[i]))
        {
            i++;
        }
        else if (!flags.Contains(args[i]))
        {
            return false;
        }
    }
    return true;
}

static int Usage()
{
    AnsiConsole.MarkupLine("""
        usage: dotnet run -c Release --project src/Saga.Cli -- <verb>
          [bold]demo[/] [[--keep]] [[--cluster]] [[--ledgers A,B,C]]
                                                the seed's story on the real system; exit 0 if the invariants hold
                                                (--keep: then stay up, with the console's link to each transfer;
                                                --ledgers: also B→C and C→A for each ledger beyond A and B)
          [bold]up[/] [[--cluster]] [[--ledgers A,B,C]] [[--port N]]
                                                the servers and the hosts as local processes, until Ctrl+C; the Api on
                                                port N of 127.0.0.1 (5080 unless told)
                                                (--cluster: on a three-node RabbitMQ cluster with quorum queues)
          [bold]bench[/] [[--transfers N]] [[--concurrency C]] [[--warmup W]] [[--rate R]] [[--accounts K]] [[--hot P]] [[--ceilings]] [[--json]]
                [[--coordinators N]] [[--ledger-instances M]] [[--apis K]] [[--ledgers A,B,C]]
                                                throughput, latency, messages and commits per transfer
                                                (--ledgers: more than two, and transfers go between any two)
          [bold]chaos[/] [[--short]] [[--cluster]] [[--seed N]] [[--coordinators 2]] [[--ledger-instances 2]] [[--apis 2]]
                                                kill, restart and freeze hosts and servers during a bench while an
                                                operator repairs; every transfer's money checked against its final state
        """);
    return 2;
}

// Internal, as the compiler makes it. ASP.NET Core's generator would make it public, and Saga.Api.Tests,
// which sees this assembly through tests/Saga.Testing, would then meet two Program classes: the Api's and this.
internal partial class Program;
