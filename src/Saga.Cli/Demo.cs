using Saga.Contracts;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>
/// The seed's story, played on the real system: a transfer that completes, one rolled back for
/// insufficient funds, one whose producer "crashes" after its local commit and is completed by the
/// check-back, one whose credit fails twice and is retried, and one whose credit fails for good and
/// is refunded by an operator. Exit code 0 only if the invariants hold.
/// </summary>
public static class Demo
{
    private sealed record Story(string Path, string From, string To, decimal Amount, string[] Finals)
    {
        public Guid Id { get; set; }
        public List<string> States { get; } = [];
        public string State => States.Count > 0 ? States[^1] : "submitting";
    }

    public static async Task<int> Run(bool keep, Broker broker, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var (alice, crashy, bob, flaky, closed) = ($"alice-{run}", $"crashy-{run}", $"bob-{run}", $"flaky-{run}", $"closed-{run}");
        await using var system = LocalSystem.Create(broker: broker,
            ledgerA: new() { ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__SkipCommitFrom__0"] = "crashy-" },
            ledgerB: new()
            {
                ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__FailTransientlyTo__0"] = "flaky-",
                ["Ledger__FaultInjection__TransientFailures"] = "2", ["Ledger__FaultInjection__FailPermanentlyTo__0"] = "closed-",
            });
        await system.Start(step => AnsiConsole.MarkupLineInterpolated($"[grey]{step}[/]"), cancellationToken);
        using var api = new ApiClient(system.Api.BaseAddress, "demo-operator");

        AnsiConsole.MarkupLine("[bold]Opening accounts[/]: A/alice 1000, A/crashy 1000, B/bob 0, B/flaky 0, B/closed 0");
        await api.OpenAccount("A", alice, 1000m, cancellationToken);
        await api.OpenAccount("A", crashy, 1000m, cancellationToken);
        await api.OpenAccount("B", bob, 0m, cancellationToken);
        await api.OpenAccount("B", flaky, 0m, cancellationToken);
        await api.OpenAccount("B", closed, 0m, cancellationToken);
        var before = await Balances(api, alice, crashy, bob, flaky, closed, cancellationToken);

        Story[] stories =
        [
            new("completes", alice, bob, 100m, [TransferStates.Completed]),
            new("insufficient funds", alice, bob, 5000m, [TransferStates.RolledBack]),
            new("A crashes, check-back", crashy, bob, 100m, [TransferStates.Completed]),
            new("B fails twice, retry", alice, flaky, 100m, [TransferStates.Completed]),
            new("B fails for good, refund", alice, closed, 100m, [TransferStates.Refunded]),
        ];
        foreach (var story in stories)
        {
            var submitted = await api.Submit($"demo-{run}-{story.Path}", "A", story.From, "B", story.To, story.Amount, cancellationToken);
            story.Id = submitted.Id ?? throw new InvalidOperationException($"{story.Path}: {submitted.Status} {submitted.Problem}");
            AnsiConsole.MarkupLineInterpolated($"submitted [blue]{story.Path}[/] ({story.Amount} from A/{story.From} to B/{story.To}): {story.Id}");
        }

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline && stories.Any(s => !s.Finals.Contains(s.State)))
        {
            foreach (var story in stories.Where(s => !s.Finals.Contains(s.State)))
            {
                var transfer = await api.Transfer(story.Id, cancellationToken);
                if (transfer is not null && transfer.State != story.State)
                {
                    story.States.Add(transfer.State);
                    AnsiConsole.MarkupLineInterpolated($"  [blue]{story.Path}[/]: [bold]{transfer.State}[/]{(transfer.Reason is null ? "" : $" ({transfer.Reason})")}");
                    if (transfer.State == TransferStates.NeedsAttention)
                    {
                        AnsiConsole.MarkupLineInterpolated($"  the failed credit is in RabbitMQ's error queue: {Queues.Error(Queues.Ledger("B"))} holds {await ErrorQueueDepth(system)} message(s)");
                        AnsiConsole.MarkupLine("  [yellow]an operator refunds it[/] (POST /transfers/{id}/refund)");
                        await api.Repair(story.Id, "refund", "B's account is closed: money back to A", cancellationToken);
                    }
                }
            }
            await Task.Delay(200, cancellationToken);
        }

        var after = await Balances(api, alice, crashy, bob, flaky, closed, cancellationToken);
        var table = new Table().AddColumns("transfer", "path", "final state", "A change", "B change", "check-backs", "retries");
        var creditsWithoutDebit = 0;
        foreach (var story in stories)
        {
            var transfer = await api.Transfer(story.Id, cancellationToken);
            var events = await api.Events(story.Id, cancellationToken);
            var debited = events.Any(e => e.Type == "TransferCommitted");
            var credited = events.Any(e => e.Type == "CreditConfirmed" && e.Data.GetProperty("purpose").GetString() == "Transfer");
            var refunded = events.Any(e => e.Type == "CreditConfirmed" && e.Data.GetProperty("purpose").GetString() == "Refund");
            creditsWithoutDebit += credited && !debited ? 1 : 0;
            var retries = events.Where(e => e.Type == "CreditConfirmed").Sum(e => e.Data.GetProperty("retries").GetInt32());
            table.AddRow(story.Id.ToString()[..8], story.Path, transfer?.State ?? "?",
                (debited && !refunded ? -story.Amount : 0m).ToString("+0.00;-0.00;0"), (credited ? story.Amount : 0m).ToString("+0.00;-0.00;0"),
                (transfer?.CheckBacks ?? 0).ToString(), retries.ToString());
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"balances before: {Describe(before)}");
        AnsiConsole.MarkupLineInterpolated($"balances after:  {Describe(after)}");

        var conserved = before.Values.Sum() == after.Values.Sum();
        var allFinal = stories.All(s => s.Finals.Contains(s.State));
        var expected = after[alice] == 1000m - 200m && after[crashy] == 900m && after[bob] == 200m && after[flaky] == 100m && after[closed] == 0m;
        Report("money conserved (A + B)", conserved);
        Report("no credit without a debit", creditsWithoutDebit == 0);
        Report("every transfer in a final state", allFinal);
        Report("balances are what the stories say", expected);
        var exitCode = conserved && creditsWithoutDebit == 0 && allFinal && expected ? 0 : 1;
        if (keep)
        {
            AnsiConsole.MarkupLine("[bold]The transfers it played, in the console[/]:");
            foreach (var story in stories)
            {
                AnsiConsole.MarkupLineInterpolated($"  {story.Path,-26} {Up.ConsoleUrl(system)}/transfers/{story.Id}");
            }
            await Up.StayUp(system, cancellationToken);
        }
        AnsiConsole.MarkupLine("[grey]stopping the hosts it started[/]");
        return exitCode;
    }

    private static async Task<Dictionary<string, decimal>> Balances(ApiClient api, string alice, string crashy, string bob, string flaky, string closed,
        CancellationToken cancellationToken) =>
        new()
        {
            [alice] = await api.Balance("A", alice, cancellationToken), [crashy] = await api.Balance("A", crashy, cancellationToken),
            [bob] = await api.Balance("B", bob, cancellationToken), [flaky] = await api.Balance("B", flaky, cancellationToken),
            [closed] = await api.Balance("B", closed, cancellationToken),
        };

    private static string Describe(Dictionary<string, decimal> balances) =>
        string.Join(", ", balances.Select(b => $"{b.Key.Split('-')[0]} {b.Value:0.00}")) + $" (total {balances.Values.Sum():0.00})";

    private static async Task<uint> ErrorQueueDepth(LocalSystem system)
    {
        await using var connection = await system.RabbitMq.Connect("demo");
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(Queues.Error(Queues.Ledger("B")))).MessageCount;
    }

    private static void Report(string invariant, bool holds) =>
        AnsiConsole.MarkupLine(holds ? $"[green]✓[/] {invariant}" : $"[red]✗ {invariant}[/]");
}
