using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Contracts;

namespace Saga.Components.Ledgers;

/// <summary>The outcome of the producer's local transaction, as recorded under the transfer id.</summary>
public sealed record LocalTransaction(LocalTransactionOutcome Outcome, string? Reason, string? FromAccount, string? ToLedger, string? ToAccount, decimal? Amount)
{
    public bool Matches(ExecuteLocalTransaction t) =>
        FromAccount == t.From.AccountId && ToLedger == t.To.Ledger && ToAccount == t.To.AccountId && Amount == t.Amount;
}

public enum CreditOutcome
{
    Applied,

    /// <summary>A repeat: the credit was applied before and is not applied again.</summary>
    AppliedBefore,

    /// <summary>A void holds the credit's key: the credit is refused for good.</summary>
    Voided,
}

/// <summary>The credit's target account does not exist: retrying cannot help.</summary>
public sealed class UnknownAccountException(string ledger, string accountId)
    : Exception($"ledger {ledger} has no account '{accountId}'");

/// <summary>
/// One ledger's tables, in a schema of its own: accounts, the producer's local-transaction records and
/// the consumer's credit records. Each operation is one statement or one short transaction.
/// </summary>
public sealed class LedgerDatabase(NpgsqlDataSource dataSource, IOptions<LedgerOptions> options)
{
    private const string Committed = "committed";
    private const string RolledBack = "rolled_back";
    private const string UniqueViolation = "23505";

    private readonly string _s = options.Value.Schema;
    private readonly string _ledger = options.Value.Id;

    // Accounts are never deleted: once seen to exist, an account needs no read before a half message.
    private const int MaxKnownAccounts = 1_000_000;
    private readonly ConcurrentDictionary<string, bool> _knownAccounts = new(StringComparer.Ordinal);

    public bool IsKnownAccount(string accountId) => _knownAccounts.ContainsKey(accountId);

    private void Known(string accountId)
    {
        if (_knownAccounts.Count < MaxKnownAccounts)
        {
            _knownAccounts.TryAdd(accountId, true);
        }
    }

    public async Task Migrate(CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Several instances of one ledger may start at once.
        await Execute(connection, $"select pg_advisory_xact_lock(hashtext('{_s}'))", cancellationToken);
        await Execute(connection, $"""
            create schema if not exists {_s};
            create table if not exists {_s}.accounts (
                account_id text primary key,
                balance numeric(20, 2) not null check (balance >= 0),
                opening_balance numeric(20, 2) not null,
                opened_at timestamptz not null default now());
            create table if not exists {_s}.local_transactions (
                transfer_id uuid primary key,
                outcome text not null check (outcome in ('{Committed}', '{RolledBack}')),
                reason text,
                from_account text,
                to_ledger text,
                to_account text,
                amount numeric(20, 2),
                recorded_at timestamptz not null default now());
            create table if not exists {_s}.credits (
                transfer_id uuid not null,
                purpose smallint not null,
                account_id text not null,
                amount numeric(20, 2) not null,
                credited_at timestamptz not null default now(),
                primary key (transfer_id, purpose));
            -- A void holds the credit's key without moving money: a later copy of that credit is refused.
            alter table {_s}.credits add column if not exists voided_at timestamptz;
            """, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Opens the account, or finds it open already: (balance, opening balance, created).</summary>
    public async Task<(decimal Balance, decimal OpeningBalance, bool Created)> Open(string accountId, decimal openingBalance, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            with opened as (
                insert into {_s}.accounts (account_id, balance, opening_balance) values ($1, $2, $2)
                on conflict (account_id) do nothing returning balance, opening_balance)
            select balance, opening_balance, true from opened
            union all
            select balance, opening_balance, false from {_s}.accounts where account_id = $1 and not exists (select 1 from opened)
            """);
        command.Parameters.Add(new() { Value = accountId });
        command.Parameters.Add(new() { Value = openingBalance });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            // Opened concurrently by another request and not yet visible to this statement's snapshot: ask again.
            await reader.DisposeAsync();
            return await Open(accountId, openingBalance, cancellationToken);
        }
        Known(accountId);
        return (reader.GetDecimal(0), reader.GetDecimal(1), reader.GetBoolean(2));
    }

    public async Task<decimal?> Balance(string accountId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select balance from {_s}.accounts where account_id = $1");
        command.Parameters.Add(new() { Value = accountId });
        return await command.ExecuteScalarAsync(cancellationToken) as decimal?;
    }

    /// <summary>One round trip before the half message: a recorded outcome for this transfer, and whether its source account exists.</summary>
    public async Task<(LocalTransaction? Recorded, bool SourceExists)> BeforeHalfMessage(Guid transferId, string fromAccount, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            select outcome, reason, from_account, to_ledger, to_account, amount, true from {_s}.local_transactions where transfer_id = $1
            union all
            select null, null, null, null, null, null, exists (select 1 from {_s}.accounts where account_id = $2)
            """);
        command.Parameters.Add(new() { Value = transferId });
        command.Parameters.Add(new() { Value = fromAccount });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        LocalTransaction? recorded = null;
        var exists = false;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!reader.IsDBNull(0))
            {
                recorded = Read(reader);
            }
            else
            {
                exists = reader.GetBoolean(6);
            }
        }
        if (exists)
        {
            Known(fromAccount);
        }
        return (recorded, exists);
    }

    public async Task<LocalTransaction?> FindLocalTransaction(Guid transferId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"select outcome, reason, from_account, to_ledger, to_account, amount from {_s}.local_transactions where transfer_id = $1");
        command.Parameters.Add(new() { Value = transferId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>
    /// The producer's local transaction: the debit and the record of its outcome, in one statement. An
    /// insufficient balance or an unknown account is recorded as rolled back. If a check-back's
    /// tombstone already holds the transfer id, nothing is debited and the tombstone's outcome stands.
    /// </summary>
    public async Task<LocalTransaction> RunLocalTransaction(ExecuteLocalTransaction transfer, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            with debit as (
                update {_s}.accounts set balance = balance - $2 where account_id = $1 and balance >= $2 returning 1)
            insert into {_s}.local_transactions (transfer_id, outcome, reason, from_account, to_ledger, to_account, amount)
            select $3,
                   case when exists (select 1 from debit) then '{Committed}' else '{RolledBack}' end,
                   case when exists (select 1 from debit) then null
                        when exists (select 1 from {_s}.accounts where account_id = $1) then 'insufficient funds'
                        else 'unknown account' end,
                   $1, $4, $5, $2
            returning outcome, reason, from_account, to_ledger, to_account, amount
            """);
        command.Parameters.Add(new() { Value = transfer.From.AccountId });
        command.Parameters.Add(new() { Value = transfer.Amount });
        command.Parameters.Add(new() { Value = transfer.TransferId });
        command.Parameters.Add(new() { Value = transfer.To.Ledger });
        command.Parameters.Add(new() { Value = transfer.To.AccountId });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return Read(reader);
        }
        catch (PostgresException e) when (e.SqlState == UniqueViolation)
        {
            // Recorded before us (a duplicate request, or a check-back's tombstone); the debit was undone with the statement.
            return (await FindLocalTransaction(transfer.TransferId, cancellationToken))!;
        }
    }

    /// <summary>
    /// The check-back's answer, exact: the recorded outcome, or, when there is none, a rolled-back
    /// tombstone under the transfer id, so a local transaction still in flight either committed first
    /// (the insert waits for it and finds its record) or can no longer commit.
    /// </summary>
    public async Task<LocalTransaction> CheckBack(Guid transferId, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"insert into {_s}.local_transactions (transfer_id, outcome, reason) values ($1, '{RolledBack}', 'no local transaction when checked back') " +
            "on conflict (transfer_id) do nothing") { Parameters = { new() { Value = transferId } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select outcome, reason, from_account, to_ledger, to_account, amount from {_s}.local_transactions where transfer_id = $1")
            { Parameters = { new() { Value = transferId } } });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException($"transfer {transferId} has no local transaction record after its tombstone");
        }
        return Read(reader);
    }

    /// <summary>
    /// Credits the account once per (transfer, purpose): the credit and its record commit together.
    /// A credit recorded before, or a void recorded under the same key, leaves the balance alone.
    /// Throws <see cref="UnknownAccountException"/> for an account this ledger does not hold.
    /// </summary>
    public async Task<CreditOutcome> Credit(Guid transferId, CreditPurpose purpose, string accountId, decimal amount, CancellationToken cancellationToken)
    {
        // One statement, so one round trip and no BEGIN/COMMIT: nothing is recorded for an unknown account.
        await using var command = dataSource.CreateCommand($"""
            with account as (
                select account_id from {_s}.accounts where account_id = $3),
            recorded as (
                insert into {_s}.credits (transfer_id, purpose, account_id, amount) select $1, $2, account_id, $4 from account
                on conflict (transfer_id, purpose) do nothing returning account_id, amount),
            credited as (
                update {_s}.accounts a set balance = a.balance + r.amount from recorded r where a.account_id = r.account_id returning 1)
            select (select count(*) from account), (select count(*) from credited)
            """);
        command.Parameters.Add(new() { Value = transferId });
        command.Parameters.Add(new() { Value = (short)purpose });
        command.Parameters.Add(new() { Value = accountId });
        command.Parameters.Add(new() { Value = amount });
        long exists, credited;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (exists, credited) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        if (credited == 1)
        {
            return CreditOutcome.Applied;
        }
        // Only a repeat or a voided credit reads its record, in a statement of its own: the record that stopped
        // the insert may have committed after the first statement's snapshot.
        return await IsVoided(transferId, purpose, cancellationToken) switch
        {
            true => CreditOutcome.Voided,
            false => CreditOutcome.AppliedBefore,
            null => exists == 0
                ? throw new UnknownAccountException(_ledger, accountId)
                : throw new InvalidOperationException($"the credit of transfer {transferId} was not applied and has no record"),
        };
    }

    /// <summary>
    /// The fence before a compensation: records a void under the key the transfer's credit writes,
    /// unless a credit is there already. Returns true when the void stands (now or from before),
    /// false when the credit was applied first. One statement decides; the account need not exist.
    /// </summary>
    public async Task<bool> Void(Guid transferId, string accountId, decimal amount, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"insert into {_s}.credits (transfer_id, purpose, account_id, amount, voided_at) values ($1, $2, $3, $4, now()) " +
            "on conflict (transfer_id, purpose) do nothing")
        {
            Parameters = { new() { Value = transferId }, new() { Value = (short)CreditPurpose.Transfer }, new() { Value = accountId }, new() { Value = amount } },
        });
        // A statement of its own, so it sees a concurrent credit the insert waited for.
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"select voided_at is not null from {_s}.credits where transfer_id = $1 and purpose = $2")
        {
            Parameters = { new() { Value = transferId }, new() { Value = (short)CreditPurpose.Transfer } },
        });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException($"transfer {transferId} has no credit record after its void");
        }
        return reader.GetBoolean(0);
    }

    private async Task<bool?> IsVoided(Guid transferId, CreditPurpose purpose, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select voided_at is not null from {_s}.credits where transfer_id = $1 and purpose = $2");
        command.Parameters.Add(new() { Value = transferId });
        command.Parameters.Add(new() { Value = (short)purpose });
        return await command.ExecuteScalarAsync(cancellationToken) as bool?;
    }

    private static LocalTransaction Read(NpgsqlDataReader r) => new(
        r.GetString(0) == Committed ? LocalTransactionOutcome.Committed : LocalTransactionOutcome.RolledBack,
        r.IsDBNull(1) ? null : r.GetString(1),
        r.IsDBNull(2) ? null : r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3),
        r.IsDBNull(4) ? null : r.GetString(4),
        r.IsDBNull(5) ? null : r.GetDecimal(5));

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
