namespace Saga.Components.Ledgers;

/// <summary>
/// The alphabet of ledger and account ids: ASCII letters and digits, and the separators <c>- _ .</c>;
/// 1 to <see cref="MaxLength"/> characters; <c>.</c> and <c>..</c> alone are not ids. ASCII only, so no two
/// ids look alike through another script, a zero-width, bidi or format character, or a white space. All
/// are unreserved in URLs and there is no <c>/</c>: an id is one path segment of the Api's URLs, as written.
/// The Api checks it at the edge; the ledgers check it again where money moves, since a message may come
/// from elsewhere than the Api.
/// </summary>
public static class AccountIds
{
    public const int MaxLength = 64;

    public const string Separators = "-_.";

    /// <summary>The same rule as a regular expression, for documents (all but "." and "..", which <see cref="IsValid"/> also refuses).</summary>
    public static readonly string Pattern = $"^[A-Za-z0-9_.-]{{1,{MaxLength}}}$";

    public static bool IsValid(string? id) => Error(id, "id") is null;

    /// <summary>Why <paramref name="id"/> is not an id, naming it <paramref name="what"/>; null when it is one.</summary>
    public static string? Error(string? id, string what) => id switch
    {
        null or "" => $"{what} is required",
        { Length: > MaxLength } => $"{what} is longer than {MaxLength} characters",
        "." or ".." => $"{what} may not be '.' or '..'",
        _ when !id.All(IsIdCharacter) => $"{what} may hold only ASCII letters, digits and {string.Join(" ", Separators.ToCharArray())}",
        _ => null,
    };

    private static bool IsIdCharacter(char c) => char.IsAsciiLetterOrDigit(c) || Separators.Contains(c);
}
