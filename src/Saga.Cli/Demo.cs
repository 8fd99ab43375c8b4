using Saga.ApiClient;
using Saga.Contracts;
using Spectre.Console;

namespace Saga.Cli;

/// <summary>
/// The seed's story, played on the real system: a transfer that completes, one rolled back for
/// insufficient funds, one whose producer "crashes" after its local commit and is completed by the
/// check-back, one whose credit fails twice and is retried, and one whose credit fails for good and
/// is refunded by an operator; and with a ledger beyond A and B (<c>--ledgers A,B,C</c>), a transfer from
/// B to it and one from it to A. Exit code 0 only if the invariants hold.
/// </summary>
public static class Demo
{
    /// <summary>An account of the demo in its ledger: "A/alice-1a2b3c".</summary>
    private sealed record Account(string Ledger, string Id)
    {
        public override string ToString() => $"{Ledger}/{Id}";
    }

    private sealed record Story(string Path, Account From, Account To, decimal Amount, string[] Finals)
    {
        public Guid Id { get; set; }
        public List<string> States { get; } = [];
        public string State => States.Count > 0 ? States[^1] : "submitting";
    }

    public static async Task<int> Run(bool keep, Broker broker, IReadOnlyList<string> ledgers, CancellationToken cancellationToken)
    {
        if (!ledgers.Contains("A") || !ledgers.Contains("B"))
        {
            throw new OptionException($"the demo's story is played between ledgers A and B: --ledgers must name them (it names {string.Join(",", ledgers)})");
        }
        var others = ledgers.Where(l => l is not ("A" or "B")).ToList();
        var run = Guid.NewGuid().ToString("N")[..6];
        var (alice, crashy, bob, flaky, closed) = (new Account("A", $"alice-{run}"), new Account("A", $"crashy-{run}"), new Account("B", $"bob-{run}"),
            new Account("B", $"flaky-{run}"), new Account("B", $"closed-{run}"));
        // Beyond A and B: dave in B pays carol in each other ledger, and carol pays alice back half.
        var dave = new Account("B", $"dave-{run}");
        var carols = others.Select(l => new Account(l, $"carol-{run}")).ToList();
        var opening = new Dictionary<Account, decimal> { [alice] = 1000m, [crashy] = 1000m, [bob] = 0m, [flaky] = 0m, [closed] = 0m };
        if (others.Count > 0)
        {
            opening[dave] = 1000m;
            carols.ForEach(carol => opening[carol] = 1000m);
        }
        await using var system = LocalSystem.Create(broker: broker, ledgers: ledgers,
            ledgerA: new() { ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__SkipCommitFrom__0"] = "crashy-" },
            ledgerB: new()
            {
                ["Ledger__FaultInjection__Enabled"] = "true", ["Ledger__FaultInjection__FailTransientlyTo__0"] = "flaky-",
                ["Ledger__FaultInjection__TransientFailures"] = "2", ["Ledger__FaultInjection__FailPermanentlyTo__0"] = "closed-",
            });
        await system.Start(step => AnsiConsole.MarkupLineInterpolated($"[grey]{step}[/]"), cancellationToken);
        using var api = new ApiConnection(system.Api.BaseAddress, "demo-operator");

        AnsiConsole.MarkupLineInterpolated($"[bold]Opening accounts[/]: {string.Join(", ", opening.Select(a => $"{a.Key.Ledger}/{a.Key.Id.Split('-')[0]} {a.Value:0}"))}");
        foreach (var (account, balance) in opening)
        {
            await api.OpenAccount(account.Ledger, account.Id, balance, cancellationToken);
        }
        var before = await Balances(api, opening.Keys, cancellationToken);

        Story[] stories =
        [
            new("completes", alice, bob, 100m, [TransferStates.Completed]),
            new("insufficient funds", alice, bob, 5000m, [TransferStates.RolledBack]),
            new("A crashes, check-back", crashy, bob, 100m, [TransferStates.Completed]),
            new("B fails twice, retry", alice, flaky, 100m, [TransferStates.Completed]),
            new("B fails for good, refund", alice, closed, 100m, [TransferStates.Refunded]),
            .. carols.SelectMany(carol => new Story[]
            {
                new($"B to {carol.Ledger}", dave, carol, 100m, [TransferStates.Completed]),
                new($"{carol.Ledger} to A", carol, alice, 50m, [TransferStates.Completed]),
            }),
        ];
        foreach (var story in stories)
        {
            var submitted = await api.Submit($"demo-{run}-{story.Path}", story.From.Ledger, story.From.Id, story.To.Ledger, story.To.Id, story.Amount, cancellationToken);
            story.Id = submitted.Id ?? throw new InvalidOperationException($"{story.Path}: {submitted.Status} {submitted.Problem}");
            AnsiConsole.MarkupLineInterpolated($"submitted [blue]{story.Path}[/] ({story.Amount} from {story.From} to {story.To}): {story.Id}");
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
                        await api.Client.RefundTransferAsync(story.Id, new RepairRequest { Reason = "B's account is closed: money back to A" }, cancellationToken);
                    }
                }
            }
            await Task.Delay(200, cancellationToken);
        }

        var after = await Balances(api, opening.Keys, cancellationToken);
        var table = new Table().AddColumns("transfer", "path", "ledgers", "final state", "from change", "to change", "check-backs", "retries");
        var creditsWithoutDebit = 0;
        foreach (var story in stories)
        {
            var transfer = await api.Transfer(story.Id, cancellationToken);
            var events = await api.Client.GetTransferEventsAsync(story.Id, cancellationToken);
            var debited = events.Any(e => e.Type == "TransferCommitted");
            var credited = events.Any(e => e.Type == "CreditConfirmed" && e.Data.GetProperty("purpose").GetString() == "Transfer");
            var refunded = events.Any(e => e.Type == "CreditConfirmed" && e.Data.GetProperty("purpose").GetString() == "Refund");
            creditsWithoutDebit += credited && !debited ? 1 : 0;
            var retries = events.Where(e => e.Type == "CreditConfirmed").Sum(e => e.Data.GetProperty("retries").GetInt32());
            table.AddRow(story.Id.ToString()[..8], story.Path, $"{story.From.Ledger} → {story.To.Ledger}", transfer?.State ?? "?",
                (debited && !refunded ? -story.Amount : 0m).ToString("+0.00;-0.00;0"), (credited ? story.Amount : 0m).ToString("+0.00;-0.00;0"),
                (transfer?.CheckBacks ?? 0).ToString(), retries.ToString());
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"balances before: {Describe(before)}");
        AnsiConsole.MarkupLineInterpolated($"balances after:  {Describe(after)}");

        var conserved = before.Values.Sum() == after.Values.Sum();
        var allFinal = stories.All(s => s.Finals.Contains(s.State));
        var expected = after[alice] == 1000m - 200m + 50m * carols.Count && after[crashy] == 900m && after[bob] == 200m && after[flaky] == 100m && after[closed] == 0m
            && (carols.Count == 0 || after[dave] == 1000m - 100m * carols.Count) && carols.All(carol => after[carol] == 1000m + 100m - 50m);
        Report($"money conserved ({string.Join(" + ", ledgers)})", conserved);
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

    private static async Task<Dictionary<Account, decimal>> Balances(ApiConnection api, IEnumerable<Account> accounts, CancellationToken cancellationToken)
    {
        var balances = new Dictionary<Account, decimal>();
        foreach (var account in accounts)
        {
            balances[account] = (await api.Client.GetAccountAsync(account.Ledger, account.Id, cancellationToken)).Balance;
        }
        return balances;
    }

    private static string Describe(Dictionary<Account, decimal> balances) =>
        string.Join(", ", balances.Select(b => $"{b.Key.Ledger}/{b.Key.Id.Split('-')[0]} {b.Value:0.00}")) + $" (total {balances.Values.Sum():0.00})";

    private static async Task<uint> ErrorQueueDepth(LocalSystem system)
    {
        await using var connection = await system.RabbitMq.Connect("demo");
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(Queues.Error(Queues.Ledger("B")))).MessageCount;
    }

    private static void Report(string invariant, bool holds) =>
        AnsiConsole.MarkupLine(holds ? $"[green]✓[/] {invariant}" : $"[red]✗ {invariant}[/]");
}
