using Marten;
using Marten.Services;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Saga.Components.EventStore;

/// <summary>
/// Marten's log without what its default one writes: never a parameter value (amounts, accounts, event bodies),
/// and the optimistic-concurrency conflicts that competing coordinators meet by design (and retry) at Debug, not
/// Error. Any other failure stays an Error, with its SQL text and exception.
/// </summary>
public sealed class MartenLogging(ILogger logger) : IMartenLogger, IMartenSessionLogger
{
    public IMartenSessionLogger StartSession(IQuerySession session) => this;

    public void SchemaChange(string sql) => logger.LogInformation("Marten changed the schema: {Sql}", sql);

    public void LogSuccess(NpgsqlCommand command) => Executed(command.CommandText);

    public void LogSuccess(NpgsqlBatch batch)
    {
        if (logger.IsEnabled(LogLevel.Trace))
        {
            Executed(Sql(batch));
        }
    }

    public void LogFailure(NpgsqlCommand command, Exception ex) => Failed(command.CommandText, ex);

    public void LogFailure(NpgsqlBatch batch, Exception ex) => Failed(Sql(batch), ex);

    public void LogFailure(Exception ex, string message) => Failed(message, ex);

    public void RecordSavedChanges(IDocumentSession session, IChangeSet commit)
    {
    }

    public void OnBeforeExecute(NpgsqlCommand command)
    {
    }

    public void OnBeforeExecute(NpgsqlBatch batch)
    {
    }

    /// <summary>
    /// A stale expected version or a second start of one stream, raw from PostgreSQL (Marten's MT003, a unique
    /// violation on the streams or the stream's versions) or as Marten translates it.
    /// </summary>
    public static bool IsConflict(Exception e) => e switch
    {
        JasperFx.ConcurrencyException or Marten.Exceptions.ExistingStreamIdCollisionException => true,
        PostgresException { SqlState: "MT003" } => true,
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: { } constraint } =>
            constraint.StartsWith("pkey_mt_streams", StringComparison.Ordinal) || constraint.StartsWith("pk_mt_events_stream_and_version", StringComparison.Ordinal),
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsConflict),
        _ => false,
    };

    private static string Sql(NpgsqlBatch batch)
    {
        var sql = new List<string>();
        foreach (var command in batch.BatchCommands)
        {
            sql.Add(command.CommandText);
        }
        return string.Join("; ", sql);
    }

    private void Executed(string sql)
    {
        if (logger.IsEnabled(LogLevel.Trace))
        {
            logger.LogTrace("Marten executed {Sql}", sql);
        }
    }

    private void Failed(string what, Exception ex)
    {
        if (IsConflict(ex))
        {
            // Expected, and retried: a line to follow it by, not an alarm, and not its stack.
            logger.LogDebug("Marten met a concurrency conflict (expected; retried): {Conflict}", ex.Message);
        }
        else
        {
            logger.LogError(ex, "Marten failed executing {Sql}", what);
        }
    }
}
