using Microsoft.Extensions.Hosting;

namespace Saga.Components.Ledgers;

/// <summary>Creates the ledger's schema before its consumers start (registered ahead of MassTransit).</summary>
public sealed class LedgerMigration(LedgerDatabase ledger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => ledger.Migrate(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
