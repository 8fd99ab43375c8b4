using Npgsql;
using Saga.Contracts;

namespace Saga.Cli;

/// <summary>How the ledgers' credits tables tell a credit that moved money from a void.</summary>
public static class LedgerTables
{
    /// <summary>Runs <paramref name="sql"/> with its one parameter in one database and hands each row to <paramref name="row"/>.</summary>
    public static async Task Rows(NpgsqlDataSource db, string sql, object parameter, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand(sql);
        command.Parameters.Add(new() { Value = parameter });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            row(reader);
        }
    }

    /// <summary>
    /// A condition on the row <paramref name="alias"/> of <paramref name="schema"/>.credits, true for a
    /// credit that moved money. A ledger that records voids has the column <c>voided_at</c>, set on a
    /// void; before that column existed every row was a credit, so the same query serves both.
    /// </summary>
    public static async Task<string> Applied(NpgsqlDataSource db, string schema, string alias, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("""
            select exists (select 1 from information_schema.columns
                           where table_schema = $1 and table_name = 'credits' and column_name = 'voided_at')
            """);
        command.Parameters.Add(new() { Value = schema });
        return await command.ExecuteScalarAsync(cancellationToken) is true ? $"{alias}.voided_at is null" : "true";
    }
}

/// <summary>One transfer as the ledgers' own tables show it, beside its state in the coordinator.</summary>
public sealed record AuditedTransfer(
    Guid Id, string? State, decimal Amount, bool Debited, bool Credited, bool Refunded, bool Voided, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt)
{
    public bool IsFinal => TransferStates.IsFinal(State);

    /// <summary>Closed by an operator after A's debit committed: the debit is written off, by hand, outside the ledgers.</summary>
    public bool WrittenOff => State == TransferStates.Resolved && Debited;

    /// <summary>Why the money at the ledgers does not fit the final state, or null when it does.</summary>
    public string? Violation
    {
        get
        {
            (bool? Debit, bool Credit, bool Refund, string Says)? expected = State switch
            {
                TransferStates.Completed => (true, true, false, "debit + credit, no refund"),
                TransferStates.Refunded => (true, false, true, "debit + refund, no credit"),
                TransferStates.RolledBack => (false, false, false, "no debit, no credit, no refund"),
                TransferStates.Resolved => (null, false, false, "no credit, no refund"),
                _ => null,
            };
            var found = $"debit {YesNo(Debited)}, B credit {YesNo(Credited)}, A refund {YesNo(Refunded)}{(Voided ? ", B void" : "")}";
            if (expected is not { } e)
            {
                return State is null ? $"no transfer in the coordinator, yet {found}" : $"{State}: not final ({found})";
            }
            if ((e.Debit is not { } debit || debit == Debited) && e.Credit == Credited && e.Refund == Refunded)
            {
                return null;
            }
            var what = (Debited, Credited, Refunded) switch
            {
                (true, true, true) => $"money created: B credited {Amount:0.00} and A refunded it",
                (_, true, _) when State == TransferStates.Resolved => $"money created: B credited {Amount:0.00} after the operator wrote the debit off",
                (true, false, true) when State == TransferStates.Resolved => $"A refunded {Amount:0.00} that the operator wrote off as lost",
                (false, true, _) => "a credit without a debit",
                _ => "the ledgers disagree with the state",
            };
            return $"{State}: {what} (expected {e.Says}; found {found})";
        }
    }

    private static string YesNo(bool b) => b ? "yes" : "no";
}

/// <summary>
/// A chaos run reconciled from the ledgers' own tables (A: local_transactions committed = the debit,
/// credits purpose 1 = the refund; B: credits purpose 0 not voided = the credit), transfer by transfer
/// against the coordinator's final state, and in total: balances = opening − written off. Each service's
/// database is read on its own and the rows are joined here: no query spans two services.
/// </summary>
public sealed record Audit(IReadOnlyList<AuditedTransfer> Transfers, decimal Opening, decimal Balances, decimal UnexplainedInA, decimal UnexplainedInB, bool VoidsRecorded)
{
    public decimal WrittenOff => Transfers.Where(t => t.WrittenOff).Sum(t => t.Amount);
    public int WrittenOffCount => Transfers.Count(t => t.WrittenOff);

    /// <summary>Money that appeared (positive) or vanished (negative) beyond what the operator wrote off.</summary>
    public decimal Created => Balances - (Opening - WrittenOff);

    public IReadOnlyList<AuditedTransfer> Violations => Transfers.Where(t => t.Violation is not null).ToList();

    public bool Holds => Created == 0 && UnexplainedInA == 0 && UnexplainedInB == 0 && Transfers.All(t => t.Violation is null);

    /// <summary>
    /// Every transfer of <paramref name="run"/>: the ones its client saw accepted, and any the coordinator
    /// or a ledger holds for its accounts, so money moved for a transfer the client never heard of counts too.
    /// </summary>
    public static async Task<Audit> Read(LocalSystem system, string run, IEnumerable<Guid> submitted, CancellationToken cancellationToken)
    {
        await using var databases = system.OpenDatabases();
        var (coordinator, a, b) = (databases.Coordinator, databases.Ledger("A"), databases.Ledger("B"));
        var appliedA = await LedgerTables.Applied(a, "ledger_a", "c", cancellationToken);
        var appliedB = await LedgerTables.Applied(b, "ledger_b", "c", cancellationToken);
        var accounts = run + "-%";

        // The run's transfers as each service knows them by its accounts, then each service asked for all of them by id.
        var ids = new HashSet<Guid>(submitted);
        ids.UnionWith(await Ids(coordinator, "select id from saga.mt_doc_transfer where data->>'FromAccount' like $1", accounts, cancellationToken));
        ids.UnionWith(await Ids(a, """
            select transfer_id from ledger_a.local_transactions where from_account like $1
            union select transfer_id from ledger_a.credits where account_id like $1
            """, accounts, cancellationToken));
        ids.UnionWith(await Ids(b, "select transfer_id from ledger_b.credits where account_id like $1", accounts, cancellationToken));
        var all = ids.ToArray();

        var states = new Dictionary<Guid, (string? State, decimal? Amount, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt)>();
        await LedgerTables.Rows(coordinator, """
            select id, current_state, (data->>'Amount')::numeric, (data->>'CreatedAt')::timestamptz, updated_at
            from saga.mt_doc_transfer where id = any($1)
            """, all, r => states[r.GetGuid(0)] = (
                r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetDecimal(2),
                r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3), r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4)), cancellationToken);
        var debits = new Dictionary<Guid, (decimal? Amount, bool Committed)>();
        await LedgerTables.Rows(a, "select transfer_id, amount, outcome = 'committed' from ledger_a.local_transactions where transfer_id = any($1)", all,
            r => debits[r.GetGuid(0)] = (r.IsDBNull(1) ? null : r.GetDecimal(1), r.GetBoolean(2)), cancellationToken);
        var refunds = new HashSet<Guid>();
        await LedgerTables.Rows(a, $"select transfer_id from ledger_a.credits c where transfer_id = any($1) and purpose = 1 and {appliedA}", all,
            r => refunds.Add(r.GetGuid(0)), cancellationToken);
        var (credits, voids) = (new HashSet<Guid>(), new HashSet<Guid>());
        await LedgerTables.Rows(b, $"select transfer_id, {appliedB} from ledger_b.credits c where transfer_id = any($1) and purpose = 0", all,
            r => (r.GetBoolean(1) ? credits : voids).Add(r.GetGuid(0)), cancellationToken);

        var transfers = all.Select(id =>
        {
            var state = states.GetValueOrDefault(id);
            var debit = debits.GetValueOrDefault(id);
            return new AuditedTransfer(id, state.State, debit.Amount ?? state.Amount ?? 0, debit.Committed, credits.Contains(id), refunds.Contains(id),
                voids.Contains(id), state.CreatedAt, state.UpdatedAt);
        }).ToList();

        // Each ledger's balances against its own records: a credit applied twice, or money moved without
        // a record, shows as the difference.
        var (openingA, balanceA, unexplainedA) = await Totals(a, $"""
            select (select coalesce(sum(opening_balance), 0) from ledger_a.accounts where account_id like $1),
                   (select coalesce(sum(balance), 0) from ledger_a.accounts where account_id like $1),
                   (select coalesce(sum(opening_balance - balance), 0) from ledger_a.accounts where account_id like $1)
                 - (select coalesce(sum(amount), 0) from ledger_a.local_transactions where from_account like $1 and outcome = 'committed')
                 + (select coalesce(sum(amount), 0) from ledger_a.credits c where account_id like $1 and purpose = 1 and {appliedA})
            """, accounts, cancellationToken);
        var (openingB, balanceB, unexplainedB) = await Totals(b, $"""
            select (select coalesce(sum(opening_balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(balance - opening_balance), 0) from ledger_b.accounts where account_id like $1)
                 - (select coalesce(sum(amount), 0) from ledger_b.credits c where account_id like $1 and purpose = 0 and {appliedB})
            """, accounts, cancellationToken);
        return new Audit(transfers, openingA + openingB, balanceA + balanceB, unexplainedA, unexplainedB, appliedB != "true");
    }

    private static async Task<List<Guid>> Ids(NpgsqlDataSource db, string sql, string accounts, CancellationToken cancellationToken)
    {
        var ids = new List<Guid>();
        await LedgerTables.Rows(db, sql, accounts, r => ids.Add(r.GetGuid(0)), cancellationToken);
        return ids;
    }

    private static async Task<(decimal Opening, decimal Balance, decimal Unexplained)> Totals(NpgsqlDataSource db, string sql, string accounts,
        CancellationToken cancellationToken)
    {
        (decimal, decimal, decimal) totals = default;
        await LedgerTables.Rows(db, sql, accounts, r => totals = (r.GetDecimal(0), r.GetDecimal(1), r.GetDecimal(2)), cancellationToken);
        return totals;
    }
}
