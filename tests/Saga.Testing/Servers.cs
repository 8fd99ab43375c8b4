using Npgsql;
using Saga.Components.Hosting;

namespace Saga.Testing;

/// <summary>
/// The real servers the tests run against, configured by the same variables as infra/config.sh.
/// A test that needs a server that is not there fails, naming it and the command that starts it.
/// </summary>
public static class Servers
{
    private const string StartCommand = "bash infra/up.sh";

    private static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    public static string PostgresConnectionString { get; } = new NpgsqlConnectionStringBuilder
    {
        Host = Env("Postgres__Host", "127.0.0.1"),
        Port = int.Parse(Env("Postgres__Port", "5432")),
        Database = Env("Postgres__Database", "saga"),
        Username = Env("Postgres__Username", "saga"),
        Password = Env("Postgres__Password", "saga"),
        MaxPoolSize = 50,
        SslMode = SslMode.Disable,
    }.ConnectionString;

    /// <summary>The broker, in <paramref name="virtualHost"/> when given; a copy of its own for each caller, to change as it likes.</summary>
    public static RabbitMqOptions RabbitMq(string? virtualHost = null) => new()
    {
        Host = Env("RabbitMq__Host", "127.0.0.1"),
        Port = ushort.Parse(Env("RabbitMq__Port", "5672")),
        ManagementPort = int.Parse(Env("RabbitMq__ManagementPort", "15672")),
        VirtualHost = virtualHost ?? Env("RabbitMq__VirtualHost", "saga"),
        Username = Env("RabbitMq__Username", "saga"),
        Password = Env("RabbitMq__Password", "saga"),
    };

    public static async Task RequirePostgres()
    {
        try
        {
            await using var connection = new NpgsqlConnection(PostgresConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable at {Env("Postgres__Host", "127.0.0.1")}:{Env("Postgres__Port", "5432")} " +
                $"(database {Env("Postgres__Database", "saga")}): {e.Message}. Start it with `{StartCommand}`.", e);
        }
    }

    public static async Task RequireRabbitMq()
    {
        var rabbit = RabbitMq();
        try
        {
            await using var connection = await rabbit.Connect("tests: require RabbitMQ");
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"RabbitMQ is not reachable at {rabbit.Host}:{rabbit.Port} (vhost {rabbit.VirtualHost}): {e.Message}. Start it with `{StartCommand}`.", e);
        }
    }
}
