using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Saga.Components.CheckBacks;

/// <summary>
/// Runs <see cref="CheckBackScan"/> every interval on one coordinator at a time: the node holding a
/// PostgreSQL session advisory lock scans; the others wait to take over if its connection drops.
/// </summary>
public sealed class CheckBackScanService(
    CheckBackScan scan,
    NpgsqlDataSource dataSource,
    TimeProvider clock,
    IOptions<CheckBackScanOptions> options,
    ILogger<CheckBackScanService> logger) : BackgroundService
{
    // Any constant shared by all coordinators of one database: "saga" + check-back.
    private const long LockKey = 0x5A6A_C8EC_BAC0;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, clock);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                if (await TryLock(connection, stoppingToken))
                {
                    logger.LogInformation("This coordinator runs the check-back scan");
                    if (await scan.UpgradeStoredDueTimes(connection, stoppingToken) is > 0 and var upgraded)
                    {
                        logger.LogWarning("{Count} transfers in flight stored by an older version had their due time moved to ScanDueAt", upgraded);
                    }
                    while (await timer.WaitForNextTickAsync(stoppingToken))
                    {
                        var sent = await scan.RunOnce(stoppingToken);
                        if (sent > 0)
                        {
                            logger.LogInformation("Check-back scan sent {Count} check-backs", sent);
                        }
                        await using var ping = new NpgsqlCommand("select 1", connection);
                        await ping.ExecuteScalarAsync(stoppingToken); // the lock lives as long as this connection
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Check-back scan failed; trying again");
            }
            await timer.WaitForNextTickAsync(stoppingToken);
        }
    }

    private static async Task<bool> TryLock(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("select pg_try_advisory_lock($1)", connection) { Parameters = { new() { Value = LockKey } } };
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
