using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RabbitMQ.Client;

namespace Saga.Cli;

/// <summary>The machine's own limits, measured in the same run: PostgreSQL commits/s and RabbitMQ persistent confirmed messages/s.</summary>
public static partial class Ceilings
{
    public static async Task<Dictionary<string, double>> Measure(LocalSystem system, Action<string> progress, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, double>();
        progress("ceiling: PostgreSQL commits/s, 1 client and 32 clients (pgbench, 5 s each)");
        await using (var db = system.OpenDatabase())
        {
            await using var create = db.CreateCommand("create table if not exists bench_ceiling (id bigserial primary key, at timestamptz default now())");
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        var script = Path.Combine(Path.GetTempPath(), "saga-ceiling.sql");
        await File.WriteAllTextAsync(script, "insert into bench_ceiling default values;\n", cancellationToken);
        result["PostgreSQL commits, 1 client"] = await PgBench(system, script, 1, cancellationToken);
        result["PostgreSQL commits, 32 clients"] = await PgBench(system, script, 32, cancellationToken);
        await using (var db = system.OpenDatabase())
        {
            await using var drop = db.CreateCommand("drop table bench_ceiling");
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        progress("ceiling: RabbitMQ persistent messages with publisher confirms (5 s)");
        result["RabbitMQ persistent confirmed messages"] = await RabbitPublish(system, TimeSpan.FromSeconds(5), cancellationToken);
        return result;
    }

    private static async Task<double> PgBench(LocalSystem system, string script, int clients, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("pgbench",
            ["-n", "-h", system.Postgres.Host, "-p", system.Postgres.Port.ToString(CultureInfo.InvariantCulture), "-U", system.Postgres.Username,
             "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 2).ToString(CultureInfo.InvariantCulture), "-T", "5", "-f", script,
             system.Postgres.Database])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        info.Environment["PGPASSWORD"] = system.Postgres.Password;
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var match = Tps().Match(output);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<double> RabbitPublish(LocalSystem system, TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var connection = await system.RabbitMq.Connect("bench-ceiling", cancellationToken);
        var queue = "bench-ceiling-" + Guid.NewGuid().ToString("N")[..6];
        await using (var setup = await connection.CreateChannelAsync(cancellationToken: cancellationToken))
        {
            await setup.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        }
        var body = new byte[400];
        var properties = new BasicProperties { Persistent = true };
        long sent = 0;
        var until = DateTime.UtcNow + duration;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), cancellationToken);
            while (DateTime.UtcNow < until)
            {
                // 16 in flight per channel, each awaited until confirmed
                await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
                    await channel.BasicPublishAsync("", queue, true, properties, body, cancellationToken)));
                Interlocked.Add(ref sent, 16);
            }
        }));
        await using (var cleanup = await connection.CreateChannelAsync(cancellationToken: cancellationToken))
        {
            await cleanup.QueueDeleteAsync(queue, cancellationToken: cancellationToken);
        }
        return sent / duration.TotalSeconds;
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();
}
