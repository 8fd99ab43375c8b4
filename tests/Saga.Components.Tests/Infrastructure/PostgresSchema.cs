using Marten;
using Npgsql;
using Saga.Components.EventStore;
using Saga.Testing;

namespace Saga.Components.Tests.Infrastructure;

/// <summary>A Marten store on the real PostgreSQL in a schema of its own, dropped at the end: one per test class.</summary>
public sealed class PostgresSchema : IAsyncLifetime
{
    public string Name { get; } = "test_" + Guid.NewGuid().ToString("N")[..12];

    public DocumentStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Servers.RequirePostgres();
        Store = DocumentStore.For(o => TransferEventStore.Configure(o, Servers.PostgresConnectionString, Name));
        await Store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public async Task DisposeAsync()
    {
        Store.Dispose();
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop schema if exists {Name} cascade", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
