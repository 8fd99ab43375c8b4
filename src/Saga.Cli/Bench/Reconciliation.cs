using Npgsql;

namespace Saga.Cli;

/// <summary>The bench's reconciliation of a run in totals; chaos reconciles each transfer against its final state (Audit.cs).</summary>
public static class Reconciliation
{
    /// <summary>
    /// From the ledgers' own tables, each read in its own database and joined here: money conserved across
    /// both; B's balances grown by exactly its recorded credits (a credit applied twice shows as the
    /// difference, in transfers of 1.00); and no credit in B for a transfer that A did not commit (a credit
    /// without a debit).
    /// </summary>
    public static async Task<(bool Conserved, long Duplicates, long CreditsWithoutDebit)> Read(Databases databases, string run, int accounts,
        CancellationToken cancellationToken)
    {
        var (a, b) = (databases.Ledger("A"), databases.Ledger("B"));
        var accountsOfRun = run + "-%";
        var applied = await LedgerTables.Applied(b, "ledger_b", "c", cancellationToken);

        var balanceA = await Scalar<decimal>(a, "select coalesce(sum(balance), 0) from ledger_a.accounts where account_id like $1", accountsOfRun, cancellationToken);
        await using var inB = b.CreateCommand($"""
            select (select coalesce(sum(balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(balance - opening_balance), 0) from ledger_b.accounts where account_id like $1),
                   (select coalesce(sum(amount), 0) from ledger_b.credits c where account_id like $1 and purpose = 0 and {applied}),
                   (select coalesce(array_agg(transfer_id), array[]::uuid[]) from ledger_b.credits c where account_id like $1 and purpose = 0 and {applied})
            """);
        inB.Parameters.Add(new() { Value = accountsOfRun });
        decimal balanceB, credited, recorded;
        Guid[] credits;
        await using (var reader = await inB.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (balanceB, credited, recorded, credits) = (reader.GetDecimal(0), reader.GetDecimal(1), reader.GetDecimal(2), reader.GetFieldValue<Guid[]>(3));
        }

        // B's credits whose debit A committed, asked of A by id.
        await using var debited = a.CreateCommand("select transfer_id from ledger_a.local_transactions where transfer_id = any($1) and outcome = 'committed'");
        debited.Parameters.Add(new() { Value = credits });
        var committed = new HashSet<Guid>();
        await using (var reader = await debited.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                committed.Add(reader.GetGuid(0));
            }
        }

        var withoutDebit = credits.LongCount(id => !committed.Contains(id));
        var duplicates = (long)Math.Ceiling(Math.Abs(credited - recorded) / 1.00m);
        return (balanceA + balanceB == accounts * 1_000_000m, duplicates, withoutDebit);
    }

    private static async Task<T> Scalar<T>(NpgsqlDataSource db, string sql, string accounts, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand(sql);
        command.Parameters.Add(new() { Value = accounts });
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
