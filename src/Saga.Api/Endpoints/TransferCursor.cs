using System.Globalization;
using System.Text;

namespace Saga.Api.Endpoints;

/// <summary>A listing's <c>next</c>/<c>after</c> cursor: the last item's UpdatedAt, opaque to clients.</summary>
internal static class TransferCursor
{
    public static string At(DateTimeOffset updatedAt) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(updatedAt.ToString("O", CultureInfo.InvariantCulture)));

    /// <summary>The time a cursor stands for, or null when this Api did not return it.</summary>
    public static DateTimeOffset? Parse(string cursor)
    {
        try
        {
            return DateTimeOffset.ParseExact(Encoding.UTF8.GetString(Convert.FromBase64String(cursor)), "O", CultureInfo.InvariantCulture);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
