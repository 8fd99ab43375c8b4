using System.Buffers.Binary;

namespace Saga.Components.Ledgers;

/// <summary>
/// Where a page of an account's transfers ended: the last entry's time, transfer id and source (its local
/// transaction, or its credit of one purpose). Opaque to clients: 26 bytes, base64url. The Api checks a
/// cursor with it at the edge; the ledger checks it again.
/// </summary>
public readonly record struct AccountTransfersCursor(DateTimeOffset At, Guid TransferId, short Source)
{
    /// <summary>The source of a local transaction; a credit's is 1 + its purpose.</summary>
    public const short LocalTransaction = 0;

    private const short MaxSource = 2;
    private const int Length = 8 + 16 + 2;

    /// <summary>The cursor as text: <see cref="Length"/> bytes in base64url without padding (35 characters).</summary>
    public const int TextLength = (Length * 4 + 2) / 3;

    /// <summary>The same as a regular expression, for documents.</summary>
    public static readonly string Pattern = $"^[A-Za-z0-9_-]{{{TextLength}}}$";

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        BinaryPrimitives.WriteInt64BigEndian(bytes, (At.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond);
        TransferId.TryWriteBytes(bytes[8..], bigEndian: true, out _);
        BinaryPrimitives.WriteInt16BigEndian(bytes[24..], Source);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The cursor <paramref name="text"/> stands for, or null when no ledger wrote it.</summary>
    public static AccountTransfersCursor? Parse(string? text)
    {
        if (text is not { Length: TextLength } || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return null;
        }
        Span<byte> bytes = stackalloc byte[Length + 1];
        if (!Convert.TryFromBase64String(text.Replace('-', '+').Replace('_', '/') + "=", bytes, out var written) || written != Length)
        {
            return null;
        }
        var micros = BinaryPrimitives.ReadInt64BigEndian(bytes);
        var source = BinaryPrimitives.ReadInt16BigEndian(bytes[24..]);
        const long maxMicros = 253_402_300_799_999_999L; // 9999-12-31
        return micros is < 0 or > maxMicros || source is < 0 or > MaxSource
            ? null
            : new AccountTransfersCursor(DateTimeOffset.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond), new Guid(bytes[8..24], bigEndian: true), source);
    }
}
