using Npgsql;
using RabbitMQ.Client;

namespace Saga.Components.Tests.Infrastructure;

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

    public static string RabbitHost => Env("RabbitMq__Host", "127.0.0.1");
    public static ushort RabbitPort => ushort.Parse(Env("RabbitMq__Port", "5672"));
    public static string RabbitVirtualHost => Env("RabbitMq__VirtualHost", "saga");
    public static string RabbitUsername => Env("RabbitMq__Username", "saga");
    public static string RabbitPassword => Env("RabbitMq__Password", "saga");

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
        try
        {
            var factory = new ConnectionFactory
            {
                HostName = RabbitHost, Port = RabbitPort, VirtualHost = RabbitVirtualHost, UserName = RabbitUsername, Password = RabbitPassword,
            };
            await using var connection = await factory.CreateConnectionAsync();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"RabbitMQ is not reachable at {RabbitHost}:{RabbitPort} (vhost {RabbitVirtualHost}): {e.Message}. Start it with `{StartCommand}`.", e);
        }
    }
}
