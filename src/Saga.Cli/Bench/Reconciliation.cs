using Npgsql;

namespace Saga.Cli;

/// <summary>The bench's reconciliation of a run in totals; chaos reconciles each transfer against its final state (Audit.cs).</summary>
public static class Reconciliation
{
    /// <summary>
    /// From the ledgers' own tables: money conserved across both; B's balances grown by exactly its
    /// recorded credits (a credit applied twice shows as the difference, in transfers of 1.00); and
    /// no credit in B for a transfer that A did not commit (a credit without a debit).
    /// </summary>
    public static async Task<(bool Conserved, long Duplicates, long CreditsWithoutDebit)> Read(NpgsqlDataSource db, string run, int accounts,
        CancellationToken cancellationToken)
    {
        var applied = await LedgerTables.Applied(db, "ledger_b", "c", cancellationToken);
        await using var command = db.CreateCommand($"""
            select (select coalesce(sum(balance), 0) from ledger_a.accounts where account_id like $1)
                 + (select coalesce(sum(balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(balance - opening_balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(amount), 0) from ledger_b.credits c where account_id like $1 and purpose = 0 and {applied}),
                   (select count(*) from ledger_b.credits c where c.account_id like $1 and c.purpose = 0 and {applied}
                      and not exists (select 1 from ledger_a.local_transactions t where t.transfer_id = c.transfer_id and t.outcome = 'committed'))
            """);
        command.Parameters.Add(new() { Value = run + "-%" });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var total = reader.GetDecimal(0);
        var credited = reader.GetDecimal(1);
        var recorded = reader.GetDecimal(2);
        var withoutDebit = reader.GetInt64(3);
        var duplicates = (long)Math.Ceiling(Math.Abs(credited - recorded) / 1.00m);
        return (total == accounts * 1_000_000m, duplicates, withoutDebit);
    }
}
