using System.Globalization;
using Npgsql;

namespace Saga.Cli;

/// <summary>A ledger's records of a run: its accounts' totals, its committed debits, and the credits it applied.</summary>
public sealed record LedgerRecords(string Ledger, decimal Opening, decimal Balance, IReadOnlyList<Debit> Debits, IReadOnlyList<Credit> Credits);

/// <summary>A committed local transaction: money that left the ledger for <see cref="ToLedger"/>.</summary>
public sealed record Debit(Guid Transfer, string ToLedger, decimal Amount);

/// <summary>A credit that moved money: a transfer's (arriving from another ledger) or a refund of its own debit.</summary>
public sealed record Credit(Guid Transfer, decimal Amount, bool Refund = false);

/// <summary>
/// One ordered pair of ledgers: what left <see cref="From"/> for <see cref="To"/> (its committed debits less
/// their refunds) and what arrived at <see cref="To"/> for those transfers.
/// </summary>
public sealed record LedgerPair(string From, string To, int Transfers, decimal Debited, decimal Credited)
{
    public bool Holds => Debited == Credited;

    public string Line => string.Create(CultureInfo.InvariantCulture,
        $"pair={From}->{To} transfers={Transfers} debited={Debited:0.00} credited={Credited:0.00} holds={(Holds ? "true" : "false")}");
}

/// <summary>The bench's reconciliation of a run in totals; chaos reconciles each transfer against its final state (Audit.cs).</summary>
public sealed record Reconciliation(IReadOnlyList<LedgerPair> Pairs, bool Conserved, long Duplicates, long CreditsWithoutDebit)
{
    /// <summary>
    /// From the ledgers' records, joined by transfer id: for every ordered pair X→Y, the debits X committed
    /// for Y (less X's refunds of them) equal the credits Y applied for those transfers; money conserved over
    /// all ledgers; each ledger's balances moved by exactly its records (a credit applied twice shows as the
    /// difference, in transfers of 1.00); and no credit without a committed debit.
    /// </summary>
    public static Reconciliation Of(IReadOnlyList<LedgerRecords> ledgers)
    {
        var debits = new Dictionary<Guid, (string From, Debit Debit)>();
        foreach (var ledger in ledgers)
        {
            foreach (var debit in ledger.Debits)
            {
                debits.TryAdd(debit.Transfer, (ledger.Ledger, debit));
            }
        }
        var pairs = ledgers.SelectMany(x => ledgers.Where(y => y != x).Select(y => (x.Ledger, y.Ledger)))
            .Concat(debits.Values.Select(d => (d.From, d.Debit.ToLedger)))
            .Distinct()
            .ToDictionary(p => p, p => (Transfers: 0, Debited: 0m, Credited: 0m));
        foreach (var (from, debit) in debits.Values)
        {
            var pair = pairs[(from, debit.ToLedger)];
            pairs[(from, debit.ToLedger)] = pair with { Transfers = pair.Transfers + 1, Debited = pair.Debited + debit.Amount };
        }
        long withoutDebit = 0;
        foreach (var ledger in ledgers)
        {
            foreach (var credit in ledger.Credits)
            {
                if (!debits.TryGetValue(credit.Transfer, out var debited) || credit.Refund && debited.From != ledger.Ledger)
                {
                    withoutDebit++;
                }
                else if (credit.Refund)
                {
                    var pair = pairs[(debited.From, debited.Debit.ToLedger)];
                    pairs[(debited.From, debited.Debit.ToLedger)] = pair with { Debited = pair.Debited - credit.Amount };
                }
                else if (pairs.TryGetValue((debited.From, ledger.Ledger), out var pair))
                {
                    pairs[(debited.From, ledger.Ledger)] = pair with { Credited = pair.Credited + credit.Amount };
                }
                else
                {
                    withoutDebit++; // credited in the very ledger that debited it
                }
            }
        }
        var unexplained = ledgers.Sum(l => Math.Abs(l.Balance - l.Opening - (l.Credits.Sum(c => c.Amount) - l.Debits.Sum(d => d.Amount))));
        return new Reconciliation(
            [.. pairs.Select(p => new LedgerPair(p.Key.Item1, p.Key.Item2, p.Value.Transfers, p.Value.Debited, p.Value.Credited))],
            ledgers.Sum(l => l.Balance) == ledgers.Sum(l => l.Opening),
            (long)Math.Ceiling(unexplained / 1.00m),
            withoutDebit);
    }

    /// <summary>The run's records from each ledger's own tables, each read in its own database: no query spans two services.</summary>
    public static async Task<Reconciliation> Read(Databases databases, IReadOnlyList<string> ledgers, string run, CancellationToken cancellationToken)
    {
        var records = new List<LedgerRecords>();
        foreach (var ledger in ledgers)
        {
            records.Add(await Records(databases.Ledger(ledger), ledger, run + "-%", cancellationToken));
        }
        return Of(records);
    }

    private static async Task<LedgerRecords> Records(NpgsqlDataSource db, string ledger, string accounts, CancellationToken cancellationToken)
    {
        var schema = "ledger_" + ledger.ToLowerInvariant();
        var applied = await LedgerTables.Applied(db, schema, "c", cancellationToken);
        var (opening, balance) = (0m, 0m);
        await LedgerTables.Rows(db, $"select coalesce(sum(opening_balance), 0), coalesce(sum(balance), 0) from {schema}.accounts where account_id like $1", accounts,
            r => (opening, balance) = (r.GetDecimal(0), r.GetDecimal(1)), cancellationToken);
        var debits = new List<Debit>();
        await LedgerTables.Rows(db, $"select transfer_id, to_ledger, amount from {schema}.local_transactions where from_account like $1 and outcome = 'committed'", accounts,
            r => debits.Add(new Debit(r.GetGuid(0), r.IsDBNull(1) ? "?" : r.GetString(1), r.GetDecimal(2))), cancellationToken);
        var credits = new List<Credit>();
        await LedgerTables.Rows(db, $"select transfer_id, amount, purpose = 1 from {schema}.credits c where account_id like $1 and purpose in (0, 1) and {applied}", accounts,
            r => credits.Add(new Credit(r.GetGuid(0), r.GetDecimal(1), r.GetBoolean(2))), cancellationToken);
        return new LedgerRecords(ledger, opening, balance, debits, credits);
    }
}
