using Saga.Cli;
using Spectre.Console;

// dotnet run -c Release --project src/Saga.Cli -- <verb>
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    return args switch
    {
        ["demo", ..] => await Demo.Run(cancel.Token),
        ["bench", .. var options] => await Bench.Run(BenchOptions.Parse(options), cancel.Token),
        ["chaos", .. var options] => await Chaos.Run(options.Contains("--short"), cancel.Token),
        _ => Usage(),
    };
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    return 130;
}

static int Usage()
{
    AnsiConsole.MarkupLine("""
        usage: dotnet run -c Release --project src/Saga.Cli -- <verb>
          [bold]demo[/]                                  the seed's story on the real system; exit 0 if the invariants hold
          [bold]bench[/] [[--transfers N]] [[--concurrency C]] [[--accounts K]] [[--hot P]] [[--ceilings]] [[--json]]
                                                throughput, latency, messages and commits per transfer
          [bold]chaos[/] [[--short]]                       kill and restart everything during a bench; nothing lost, nothing doubled
        """);
    return 2;
}
