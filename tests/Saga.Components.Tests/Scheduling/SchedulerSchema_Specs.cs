using Npgsql;
using Saga.Components.Scheduling;
using Saga.Testing;

namespace Saga.Components.Tests.Scheduling;

public sealed class SchedulerSchema_Specs : IAsyncLifetime
{
    private readonly string _schema = "test_sched_" + Guid.NewGuid().ToString("N")[..10];

    public Task InitializeAsync() => Servers.RequirePostgres();

    public async Task DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop schema if exists {_schema} cascade", connection);
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Nodes_starting_together_create_the_tables_once_and_a_later_start_keeps_them()
    {
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SchedulerSchema.Ensure(Servers.PostgresConnectionString, _schema, default)));
        await using var connection = new NpgsqlConnection(Servers.PostgresConnectionString);
        await connection.OpenAsync();
        await using (var keep = new NpgsqlCommand($"insert into {_schema}.qrtz_locks values ('s', 'TRIGGER_ACCESS')", connection))
        {
            await keep.ExecuteNonQueryAsync();
        }

        await SchedulerSchema.Ensure(Servers.PostgresConnectionString, _schema, default);

        await using var tables = new NpgsqlCommand("select count(*) from information_schema.tables where table_schema = $1", connection)
        {
            Parameters = { new() { Value = _schema } },
        };
        Assert.Equal(12L, await tables.ExecuteScalarAsync());
        await using var rows = new NpgsqlCommand($"select count(*) from {_schema}.qrtz_locks", connection);
        Assert.Equal(1L, await rows.ExecuteScalarAsync());
    }
}
