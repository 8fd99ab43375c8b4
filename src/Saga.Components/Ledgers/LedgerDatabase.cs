using Microsoft.Extensions.Options;
using Npgsql;
using Saga.Components.Hosting;
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
/// the consumer's credit records. Each operation is one statement or one short transaction; local
/// transactions and credits waiting at the same moment share one transaction (group commit).
/// </summary>
public sealed class LedgerDatabase : IAsyncDisposable
{
    private const string Committed = "committed";
    private const string RolledBack = "rolled_back";

    /// <summary>
    /// The reason a record holds between its insert and its outcome, within the batch's transaction:
    /// never committed, so it marks the records this transaction inserted. (An NpgsqlBatch outside a
    /// transaction ends with one Sync: PostgreSQL runs it as one implicit transaction, all or nothing.)
    /// </summary>
    private const string Deciding = "deciding";

    private const int MaxBatch = 256;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _s;
    private readonly string _ledger;
    private readonly GroupCommit<ExecuteLocalTransaction, LocalTransaction> _localTransactions;
    private readonly GroupCommit<CreditRequest, CreditOutcome?> _credits;

    public LedgerDatabase(NpgsqlDataSource dataSource, IOptions<LedgerOptions> options)
    {
        _dataSource = dataSource;
        _s = options.Value.Schema;
        _ledger = options.Value.Id;
        // A lost connection or a deadlock is no one item's fault: the whole batch fails and is redelivered.
        _localTransactions = new(WriteLocalTransactions, MaxBatch, IsItemFault, writer: "local-transactions");
        _credits = new(WriteCredits, MaxBatch, IsItemFault, writer: "credits");
    }

    private static bool IsItemFault(Exception e) => e is not NpgsqlException { IsTransient: true };

    // The schema's comment once the DDL below has run: change it whenever the DDL changes.
    private const string SchemaVersion = "saga ledger schema 6";

    public async Task Migrate(CancellationToken cancellationToken = default)
    {
        // An instance started beside running ones finds the schema as it wants it and takes no lock at all:
        // ALTER TABLE locks a table whole even when it changes nothing, and under load that deadlocked with
        // another instance's credits (chaos --cluster: a restarted ledger crashed at start with 40P01).
        if (await Version(cancellationToken) == SchemaVersion)
        {
            return;
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await MigrateOnce(cancellationToken);
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                // An upgrade beside older instances still at work: PostgreSQL chose this transaction; the next try may pass.
            }
        }
    }

    private async Task<string?> Version(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = $1");
        command.Parameters.Add(new() { Value = _s });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private async Task MigrateOnce(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Several instances of one ledger may start at once.
        await Execute(connection, $"select pg_advisory_xact_lock(hashtext('{_s}'))", cancellationToken);
        await Execute(connection, $"""
            do $$ begin if not exists (select from pg_namespace where nspname = '{_s}') then create schema {_s}; end if; end $$;
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
            -- Who may debit the account, and who asked for each local transaction. An account opened before
            -- owners were kept has none, so nobody can debit it.
            alter table {_s}.accounts add column if not exists owner text;
            alter table {_s}.local_transactions add column if not exists initiator text;
            -- An account's transfers, newest first, as index scans that stop at the page's end. Both tables
            -- are written once a row (a local transaction's outcome is set in its insert's transaction, on
            -- columns not indexed here, so that update may stay HOT): one more index entry per row.
            create index if not exists local_transactions_by_account on {_s}.local_transactions (from_account, recorded_at, transfer_id);
            create index if not exists credits_by_account on {_s}.credits (account_id, credited_at, transfer_id, purpose);
            comment on schema {_s} is '{SchemaVersion}';
            """, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Opens the account for its owner, or finds it open already.</summary>
    public async Task<OpenedAccount> Open(string accountId, decimal openingBalance, string owner, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            with opened as (
                insert into {_s}.accounts (account_id, balance, opening_balance, owner) values ($1, $2, $2, $3)
                on conflict (account_id) do nothing returning balance, opening_balance, owner)
            select balance, opening_balance, owner, true from opened
            union all
            select balance, opening_balance, owner, false from {_s}.accounts where account_id = $1 and not exists (select 1 from opened)
            """);
        command.Parameters.Add(new() { Value = accountId });
        command.Parameters.Add(new() { Value = openingBalance });
        command.Parameters.Add(new() { Value = owner });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            // Opened concurrently by another request and not yet visible to this statement's snapshot: ask again.
            await reader.DisposeAsync();
            return await Open(accountId, openingBalance, owner, cancellationToken);
        }
        return new(reader.GetDecimal(0), reader.GetDecimal(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetBoolean(3));
    }

    /// <summary>The account's balance and owner, or null when this ledger has no such account.</summary>
    public async Task<(decimal Balance, string? Owner)?> Account(string accountId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"select balance, owner from {_s}.accounts where account_id = $1");
        command.Parameters.Add(new() { Value = accountId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetDecimal(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }

    /// <summary>
    /// What this ledger did to the account, newest first: its debits and rolled-back local transactions,
    /// its credits, refunds and voided credits; at most <paramref name="take"/>, older than
    /// <paramref name="before"/>. Ordered by (time, transfer id, source), so a cursor never skips nor repeats an
    /// entry, however many share a time (a group commit records its whole batch at one). Each table is read
    /// by its index on the account, from the cursor down, and stops after <paramref name="take"/> rows.
    /// </summary>
    public async Task<IReadOnlyList<(AccountTransfer Transfer, AccountTransfersCursor Position)>> AccountTransfers(
        string accountId, AccountTransfersCursor? before, int take, CancellationToken cancellationToken)
    {
        // A local transaction sorts below a credit of the same time and transfer (source 0 against 1 + purpose).
        var (debits, credits) = before switch
        {
            null => ("", ""),
            { Source: AccountTransfersCursor.LocalTransaction } => ("and (recorded_at, transfer_id) < ($2, $3)", "and (credited_at, transfer_id, purpose) < ($2, $3, $4)"),
            _ => ("and (recorded_at, transfer_id) <= ($2, $3)", "and (credited_at, transfer_id, purpose) < ($2, $3, $4)"),
        };
        await using var command = _dataSource.CreateCommand($"""
            (select transfer_id, case when outcome = '{Committed}' then {(int)AccountEntry.Debited} else {(int)AccountEntry.RolledBack} end,
                    amount, recorded_at, reason, 0::smallint as source
             from {_s}.local_transactions where from_account = $1 {debits}
             order by recorded_at desc, transfer_id desc limit $5)
            union all
            (select transfer_id, case when voided_at is not null then {(int)AccountEntry.CreditVoided}
                                      when purpose = {(short)CreditPurpose.Refund} then {(int)AccountEntry.RefundCredited}
                                      else {(int)AccountEntry.Credited} end,
                    amount, credited_at, null, (1 + purpose)::smallint
             from {_s}.credits where account_id = $1 {credits}
             order by credited_at desc, transfer_id desc, purpose desc limit $5)
            order by 4 desc, 1 desc, 6 desc limit $5
            """);
        command.Parameters.Add(new() { Value = accountId });
        command.Parameters.Add(new() { Value = (before?.At ?? DateTimeOffset.UnixEpoch).UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = before?.TransferId ?? Guid.Empty });
        command.Parameters.Add(new() { Value = (short)((before?.Source ?? 0) - 1) });
        command.Parameters.Add(new() { Value = take });
        var found = new List<(AccountTransfer, AccountTransfersCursor)>(take);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var at = new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero);
            var transferId = reader.GetGuid(0);
            found.Add((new AccountTransfer(transferId, (AccountEntry)reader.GetInt32(1), reader.IsDBNull(2) ? 0m : reader.GetDecimal(2), at,
                reader.IsDBNull(4) ? null : reader.GetString(4)), new AccountTransfersCursor(at, transferId, reader.GetInt16(5))));
        }
        return found;
    }

    public async Task<decimal?> Balance(string accountId, CancellationToken cancellationToken) =>
        (await Account(accountId, cancellationToken))?.Balance;

    public async Task<LocalTransaction?> FindLocalTransaction(Guid transferId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"select outcome, reason, from_account, to_ledger, to_account, amount from {_s}.local_transactions where transfer_id = $1");
        command.Parameters.Add(new() { Value = transferId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>
    /// The producer's local transaction: the debit and the record of its outcome, committed together. An
    /// insufficient balance is recorded as rolled back, and so is an account the initiator does not own,
    /// with the reason an unknown account gets: a caller learns nothing of accounts that are not its own.
    /// If a record already holds the transfer id (a duplicate request, or a check-back's tombstone),
    /// nothing is debited and that record's outcome stands.
    /// </summary>
    public Task<LocalTransaction> RunLocalTransaction(ExecuteLocalTransaction transfer, CancellationToken cancellationToken) =>
        _localTransactions.Run(transfer, cancellationToken);

    /// <summary>
    /// A batch of local transactions in one transaction and one round trip. The records go in first, with
    /// no conflict raised: a record there already (or in flight from another connection, which the insert
    /// waits for) keeps its transfer out of the debit, so no unique violation aborts the others. Then the
    /// debits are decided per account, smallest first: a transfer is debited when the running sum up to it
    /// fits the balance, which is what one after the other in that order would give. The read comes last, a
    /// statement of its own, so it sees the records the insert waited for.
    /// </summary>
    private async Task<IReadOnlyList<LocalTransaction>> WriteLocalTransactions(IReadOnlyList<ExecuteLocalTransaction> transfers, CancellationToken cancellationToken)
    {
        var ids = transfers.Select(t => t.TransferId).ToArray();
        var froms = transfers.Select(t => t.From.AccountId).ToArray();
        await using var batch = _dataSource.CreateBatch();
        // Accounts locked in one order, so two batches (of two instances of this ledger, or a credit batch) never deadlock.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select 1 from {_s}.accounts where account_id = any($1) order by account_id for update") { Parameters = { new() { Value = froms } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            insert into {_s}.local_transactions (transfer_id, outcome, reason, from_account, to_ledger, to_account, amount, initiator)
            select distinct on (t.id) t.id, '{RolledBack}', '{Deciding}', t.from_account, t.to_ledger, t.to_account, t.amount, t.initiator
            from unnest($1::uuid[], $2::text[], $3::numeric[], $4::text[], $5::text[], $6::text[])
                with ordinality t(id, from_account, amount, to_ledger, to_account, initiator, n)
            order by t.id, t.n
            on conflict (transfer_id) do nothing
            """)
        {
            Parameters =
            {
                new() { Value = ids }, new() { Value = froms }, new() { Value = transfers.Select(t => t.Amount).ToArray() },
                new() { Value = transfers.Select(t => t.To.Ledger).ToArray() }, new() { Value = transfers.Select(t => t.To.AccountId).ToArray() },
                new() { Value = transfers.Select(t => t.Initiator).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text },
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            with asked as (
                select l.transfer_id, l.from_account, l.amount, a.balance, coalesce(a.owner = l.initiator, false) as owned
                from {_s}.local_transactions l left join {_s}.accounts a on a.account_id = l.from_account
                where l.transfer_id = any($1) and l.reason = '{Deciding}'),
            mine as (
                select transfer_id, from_account, amount, owned as known,
                       owned and sum(amount) over (partition by from_account, owned order by amount, transfer_id rows unbounded preceding) <= balance as debited
                from asked),
            debit as (
                update {_s}.accounts a set balance = a.balance - d.total
                from (select from_account, sum(amount) as total from mine where debited group by from_account) d
                where a.account_id = d.from_account)
            update {_s}.local_transactions l
            set outcome = case when m.debited then '{Committed}' else '{RolledBack}' end,
                reason = case when m.debited then null when m.known then 'insufficient funds' else 'unknown account' end
            from mine m
            where l.transfer_id = m.transfer_id
            """) { Parameters = { new() { Value = ids } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select outcome, reason, from_account, to_ledger, to_account, amount, transfer_id from {_s}.local_transactions where transfer_id = any($1)")
            { Parameters = { new() { Value = ids } } });

        var recorded = new Dictionary<Guid, LocalTransaction>(ids.Length);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            await reader.NextResultAsync(cancellationToken); // past the locked accounts
            while (await reader.ReadAsync(cancellationToken))
            {
                recorded[reader.GetGuid(6)] = Read(reader);
            }
        }
        return [.. ids.Select(id => recorded.TryGetValue(id, out var r) ? r
            : throw new InvalidOperationException($"transfer {id} has no local transaction record after its insert"))];
    }

    /// <summary>
    /// The check-back's answer, exact: the recorded outcome, or, when there is none, a rolled-back
    /// tombstone under the transfer id, so a local transaction still in flight either committed first
    /// (the insert waits for it and finds its record) or can no longer commit.
    /// </summary>
    public async Task<LocalTransaction> CheckBack(Guid transferId, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
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
    public async Task<CreditOutcome> Credit(Guid transferId, CreditPurpose purpose, string accountId, decimal amount, CancellationToken cancellationToken) =>
        await _credits.Run(new CreditRequest(transferId, purpose, accountId, amount), cancellationToken)
        ?? throw new UnknownAccountException(_ledger, accountId);

    /// <summary>
    /// A batch of credits in one transaction and one round trip; null for a credit to an unknown account,
    /// which records nothing. One record per key: the first credit of a key to an account that exists.
    /// Each account is credited once, with the sum of its credits recorded (an update joined to two rows
    /// of one account would apply one). The read of the records that stopped an insert is a statement of
    /// its own: such a record may have committed after the insert's snapshot, while the insert waited.
    /// </summary>
    private async Task<IReadOnlyList<CreditOutcome?>> WriteCredits(IReadOnlyList<CreditRequest> credits, CancellationToken cancellationToken)
    {
        var ids = credits.Select(c => c.TransferId).ToArray();
        var purposes = credits.Select(c => (short)c.Purpose).ToArray();
        var accounts = credits.Select(c => c.AccountId).ToArray();
        await using var batch = _dataSource.CreateBatch();
        // Accounts locked in one order, so this batch never deadlocks with a local-transaction batch or another instance's.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select account_id from {_s}.accounts where account_id = any($1) order by account_id for update") { Parameters = { new() { Value = accounts } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            with recorded as (
                insert into {_s}.credits (transfer_id, purpose, account_id, amount)
                select distinct on (c.id, c.purpose) c.id, c.purpose, c.account_id, c.amount
                from unnest($1::uuid[], $2::smallint[], $3::text[], $4::numeric[]) with ordinality c(id, purpose, account_id, amount, n)
                join {_s}.accounts a on a.account_id = c.account_id
                order by c.id, c.purpose, c.n
                on conflict (transfer_id, purpose) do nothing
                returning transfer_id, purpose, account_id, amount),
            credited as (
                update {_s}.accounts a set balance = a.balance + r.total
                from (select account_id, sum(amount) as total from recorded group by account_id) r
                where a.account_id = r.account_id)
            select transfer_id, purpose, account_id from recorded
            """)
        {
            Parameters = { new() { Value = ids }, new() { Value = purposes }, new() { Value = accounts }, new() { Value = credits.Select(c => c.Amount).ToArray() } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            select transfer_id, purpose, voided_at is not null from {_s}.credits
            where (transfer_id, purpose) in (select * from unnest($1::uuid[], $2::smallint[]))
            """) { Parameters = { new() { Value = ids }, new() { Value = purposes } } });

        var known = new HashSet<string>(StringComparer.Ordinal);
        var applied = new Dictionary<(Guid, short), string>();
        var voided = new Dictionary<(Guid, short), bool>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                known.Add(reader.GetString(0));
            }
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                applied[(reader.GetGuid(0), reader.GetInt16(1))] = reader.GetString(2);
            }
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                voided[(reader.GetGuid(0), reader.GetInt16(1))] = reader.GetBoolean(2);
            }
        }

        var outcomes = new CreditOutcome?[credits.Count];
        for (var i = 0; i < credits.Count; i++)
        {
            var key = (ids[i], purposes[i]);
            // The insert took the first credit of its key to an account that exists; later ones are repeats.
            if (applied.TryGetValue(key, out var account) && account == accounts[i])
            {
                outcomes[i] = CreditOutcome.Applied;
                applied.Remove(key);
            }
            else if (voided.TryGetValue(key, out var isVoid))
            {
                outcomes[i] = isVoid ? CreditOutcome.Voided : CreditOutcome.AppliedBefore;
            }
            else
            {
                outcomes[i] = known.Contains(accounts[i])
                    ? throw new InvalidOperationException($"the credit of transfer {ids[i]} was not applied and has no record")
                    : null;
            }
        }
        return outcomes;
    }

    /// <summary>
    /// The fence before a compensation: records a void under the key the transfer's credit writes,
    /// unless a credit is there already. Returns true when the void stands (now or from before),
    /// false when the credit was applied first. One statement decides; the account need not exist.
    /// </summary>
    public async Task<bool> Void(Guid transferId, string accountId, decimal amount, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
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

    public async ValueTask DisposeAsync()
    {
        await _localTransactions.DisposeAsync();
        await _credits.DisposeAsync();
    }

    public sealed record OpenedAccount(decimal Balance, decimal OpeningBalance, string? Owner, bool Created);

    private sealed record CreditRequest(Guid TransferId, CreditPurpose Purpose, string AccountId, decimal Amount);
}
