using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Saga.Components.Hosting;
using Saga.Contracts;

namespace Saga.Api;

public enum Submission
{
    /// <summary>First seen now: the half message is to be sent.</summary>
    New,

    /// <summary>The same caller, key and body as before: the same transfer (its half message is sent again).</summary>
    Repeat,

    /// <summary>The key named a transfer with another body: refused.</summary>
    Conflict,
}

/// <summary>
/// The Api's own record of each transfer it accepted: the transfer id (from the caller and the
/// Idempotency-Key) and a fingerprint of the body, durable before the Api answers 202, so the same key
/// with another body is refused at once. Records waiting together commit as one transaction
/// (<see cref="GroupCommit{TItem,TResult}"/>). Nothing here moves money: the coordinator refuses a
/// half message that conflicts with the one it holds whatever this table says.
/// </summary>
public sealed class SubmittedTransfers : IAsyncDisposable
{
    /// <summary>The Api's schema: its only table, in a schema no other service writes.</summary>
    public const string Schema = "api";

    private readonly NpgsqlDataSource _dataSource;
    private readonly GroupCommit<(Guid Id, byte[] Fingerprint), Submission> _commits;

    public SubmittedTransfers(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        // A lost connection is no one request's fault: the batch fails once rather than being halved.
        _commits = new GroupCommit<(Guid Id, byte[] Fingerprint), Submission>(Write, halves: e => e is not NpgsqlException { IsTransient: true }, writer: "submissions");
    }

    public static byte[] Fingerprint(AccountRef from, AccountRef to, decimal amount, string currency) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{from.Ledger}\n{from.AccountId}\n{to.Ledger}\n{to.AccountId}\n{amount:0.00}\n{currency}")));

    public Task<Submission> Record(Guid transferId, byte[] fingerprint, CancellationToken cancellationToken) =>
        _commits.Run((transferId, fingerprint), cancellationToken);

    public async Task Migrate(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            select pg_advisory_xact_lock(hashtext('{Schema}'));
            do $$ begin if not exists (select from pg_namespace where nspname = '{Schema}') then create schema {Schema}; end if; end $$;
            create table if not exists {Schema}.submitted_transfers (
                transfer_id uuid primary key,
                fingerprint bytea not null,
                submitted_at timestamptz not null default now());
            """);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<IReadOnlyList<Submission>> Write(IReadOnlyList<(Guid Id, byte[] Fingerprint)> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(b => b.Id).ToArray();
        await using var statements = _dataSource.CreateBatch();
        statements.BatchCommands.Add(new NpgsqlBatchCommand(
            $"insert into {Schema}.submitted_transfers (transfer_id, fingerprint) select * from unnest($1, $2) on conflict (transfer_id) do nothing returning transfer_id")
        {
            Parameters =
            {
                new() { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                new() { Value = batch.Select(b => b.Fingerprint).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea },
            },
        });
        // A statement of its own (one implicit transaction with the insert): it sees a record that
        // another Api committed after the insert's snapshot, which the insert waited for.
        statements.BatchCommands.Add(new NpgsqlBatchCommand($"select transfer_id, fingerprint from {Schema}.submitted_transfers where transfer_id = any($1)")
        {
            Parameters = { new() { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid } },
        });
        var inserted = new HashSet<Guid>();
        var stored = new Dictionary<Guid, byte[]>();
        await using (var reader = await statements.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(reader.GetGuid(0));
            }
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored[reader.GetGuid(0)] = (byte[])reader.GetValue(1);
            }
        }
        var answers = new Submission[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var (id, fingerprint) = batch[i];
            answers[i] = !stored.TryGetValue(id, out var held) ? throw new InvalidOperationException($"transfer {id} has no record after its insert")
                : !held.AsSpan().SequenceEqual(fingerprint) ? Submission.Conflict
                : inserted.Remove(id) ? Submission.New
                : Submission.Repeat;
        }
        return answers;
    }

    public ValueTask DisposeAsync() => _commits.DisposeAsync();
}
