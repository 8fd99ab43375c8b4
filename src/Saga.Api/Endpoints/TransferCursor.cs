using System.Globalization;
using System.Text;

namespace Saga.Api.Endpoints;

/// <summary>A listing's <c>next</c>/<c>after</c> cursor: the last item's UpdatedAt, opaque to clients.</summary>
internal static class TransferCursor
{
    // The base64 of a round-trip time ("O") is 44 characters; anything much longer is not ours.
    private const int MaxLength = 64;

    public static string At(DateTimeOffset updatedAt) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(updatedAt.ToString("O", CultureInfo.InvariantCulture)));

    /// <summary>The time a cursor stands for, or null when this Api did not return it.</summary>
    public static DateTimeOffset? Parse(string cursor)
    {
        var bytes = new byte[MaxLength];
        return cursor.Length <= MaxLength
            && Convert.TryFromBase64String(cursor, bytes, out var written)
            && DateTimeOffset.TryParseExact(Encoding.UTF8.GetString(bytes, 0, written), "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)
                ? at
                : null;
    }
}
