using System.Globalization;
using System.Text;
using Saga.Components.EventStore;

namespace Saga.Api.Endpoints;

/// <summary>
/// A listing's <c>next</c>/<c>after</c> cursor, opaque to clients: the last item's UpdatedAt and id
/// (<see cref="TransferPosition"/>). A cursor of a time alone (what this Api returned before ids were in it)
/// still reads: it stands for everything changed before that time.
/// </summary>
internal static class TransferCursor
{
    // The base64 of "<round-trip time>|<32 hex digits>" is 88 characters; anything much longer is not ours.
    public const int MaxLength = 128;

    /// <summary>What a cursor looks like, for the document: base64 (<see cref="Encode"/>).</summary>
    public const string Pattern = "^[A-Za-z0-9+/=]+$";

    public static string At(TransferPosition position) =>
        Encode($"{position.UpdatedAt.ToString("O", CultureInfo.InvariantCulture)}|{position.TransferId:N}");

    /// <summary>A cursor of a time alone: everything changed before it.</summary>
    public static string At(DateTimeOffset updatedAt) => Encode(updatedAt.ToString("O", CultureInfo.InvariantCulture));

    /// <summary>The position a cursor stands for, or null when this Api did not return it.</summary>
    public static TransferPosition? Parse(string cursor)
    {
        var bytes = new byte[MaxLength];
        if (cursor.Length > MaxLength || !Convert.TryFromBase64String(cursor, bytes, out var written))
        {
            return null;
        }
        var text = Encoding.UTF8.GetString(bytes, 0, written);
        var bar = text.IndexOf('|');
        var (time, id) = bar < 0 ? (text, null) : (text[..bar], text[(bar + 1)..]);
        if (!DateTimeOffset.TryParseExact(time, "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
        {
            return null;
        }
        if (id is null)
        {
            return TransferViews.Before(at);
        }
        return Guid.TryParseExact(id, "N", out var transferId) ? new TransferPosition(at, transferId) : null;
    }

    private static string Encode(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
