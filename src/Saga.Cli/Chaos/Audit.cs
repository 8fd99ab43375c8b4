using Npgsql;
using Saga.Contracts;

namespace Saga.Cli;

/// <summary>How the ledgers' credits tables tell a credit that moved money from a void.</summary>
public static class LedgerTables
{
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
/// against the coordinator's final state, and in total: balances = opening − written off.
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
    public static async Task<Audit> Read(NpgsqlDataSource db, string run, IEnumerable<Guid> submitted, CancellationToken cancellationToken)
    {
        var appliedA = await LedgerTables.Applied(db, "ledger_a", "c", cancellationToken);
        var appliedB = await LedgerTables.Applied(db, "ledger_b", "c", cancellationToken);
        var accounts = run + "-%";
        var transfers = new List<AuditedTransfer>();
        await using (var command = db.CreateCommand($"""
            with ids as (
                select id from saga.mt_doc_transfer where data->>'FromAccount' like $1
                union select unnest($2::uuid[])
                union select transfer_id from ledger_a.local_transactions where from_account like $1
                union select transfer_id from ledger_a.credits where account_id like $1
                union select transfer_id from ledger_b.credits where account_id like $1)
            select i.id, t.current_state, coalesce(l.amount, (t.data->>'Amount')::numeric, 0),
                   coalesce(l.outcome = 'committed', false),
                   exists (select 1 from ledger_b.credits c where c.transfer_id = i.id and c.purpose = 0 and {appliedB}),
                   exists (select 1 from ledger_a.credits c where c.transfer_id = i.id and c.purpose = 1 and {appliedA}),
                   exists (select 1 from ledger_b.credits c where c.transfer_id = i.id and c.purpose = 0 and not ({appliedB})),
                   (t.data->>'CreatedAt')::timestamptz, t.updated_at
            from ids i
            left join saga.mt_doc_transfer t on t.id = i.id
            left join ledger_a.local_transactions l on l.transfer_id = i.id
            """))
        {
            command.Parameters.Add(new() { Value = accounts });
            command.Parameters.Add(new() { Value = submitted.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                transfers.Add(new AuditedTransfer(
                    reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetDecimal(2),
                    reader.GetBoolean(3), reader.GetBoolean(4), reader.GetBoolean(5), reader.GetBoolean(6),
                    reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                    reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
            }
        }

        // Each ledger's balances against its own records: a credit applied twice, or money moved without
        // a record, shows as the difference.
        await using var totals = db.CreateCommand($"""
            select (select coalesce(sum(opening_balance), 0) from ledger_a.accounts where account_id like $1)
                 + (select coalesce(sum(opening_balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(balance), 0) from ledger_a.accounts where account_id like $1)
                 + (select coalesce(sum(balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(opening_balance - balance), 0) from ledger_a.accounts where account_id like $1)
                 - (select coalesce(sum(amount), 0) from ledger_a.local_transactions where from_account like $1 and outcome = 'committed')
                 + (select coalesce(sum(amount), 0) from ledger_a.credits c where account_id like $1 and purpose = 1 and {appliedA}),
                   (select coalesce(sum(balance - opening_balance), 0) from ledger_b.accounts where account_id like $1)
                 - (select coalesce(sum(amount), 0) from ledger_b.credits c where account_id like $1 and purpose = 0 and {appliedB})
            """);
        totals.Parameters.Add(new() { Value = accounts });
        await using var sums = await totals.ExecuteReaderAsync(cancellationToken);
        await sums.ReadAsync(cancellationToken);
        return new Audit(transfers, sums.GetDecimal(0), sums.GetDecimal(1), sums.GetDecimal(2), sums.GetDecimal(3), appliedB != "true");
    }
}
