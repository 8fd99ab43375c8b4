namespace Saga.Cli;

/// <summary>A command-line option the CLI cannot use: said in one line, and nothing started.</summary>
public sealed class OptionException(string message) : Exception(message);

/// <summary>
/// The ledgers a local system runs, from <c>--ledgers A,B,C</c>: each gets its host(s), its service account and
/// its database (infra/service-accounts.sh, through Saga__Ledgers), and the Api accepts it (Api__Ledgers).
/// </summary>
public static class LedgerIds
{
    public static IReadOnlyList<string> Default { get; } = ["A", "B"];

    /// <summary>The ledger ids of <c>--ledgers</c> in <paramref name="args"/>, or <see cref="Default"/> without it.</summary>
    public static IReadOnlyList<string> Parse(string[] args)
    {
        var at = Array.IndexOf(args, "--ledgers");
        if (at < 0)
        {
            return Default;
        }
        if (at + 1 >= args.Length)
        {
            throw new OptionException("--ledgers needs a list of ledger ids, such as --ledgers A,B,C");
        }
        var ids = args[at + 1].Split(',', StringSplitOptions.TrimEntries);
        // The ledger host's own rule (LedgerOptions.Validate): the id names its queue and its database schema.
        if (ids.FirstOrDefault(id => id.Length is 0 or > 16 || !id.All(char.IsAsciiLetterOrDigit)) is { } bad)
        {
            throw new OptionException($"--ledgers: '{bad}' is not a ledger id (1-16 ASCII letters or digits)");
        }
        // Queues and schemas are named in lower case: A and a would be one ledger.
        if (ids.GroupBy(id => id.ToUpperInvariant()).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new OptionException($"--ledgers names ledger {twice.Key} more than once");
        }
        return ids.Length >= 2 ? ids : throw new OptionException("--ledgers needs at least two ledgers: a transfer goes from one to another");
    }

    /// <summary>"A and B", "A, B and C".</summary>
    public static string Listing(IReadOnlyList<string> ids) => ids.Count == 1 ? ids[0] : $"{string.Join(", ", ids.Take(ids.Count - 1))} and {ids[^1]}";
}
