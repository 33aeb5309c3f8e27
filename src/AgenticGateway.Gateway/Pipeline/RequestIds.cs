using System.Security.Cryptography;

namespace AgenticGateway.Pipeline;

/// <summary>Accepts a caller's x-request-id (if sane) or mints one, and echoes it on the response.</summary>
internal static class RequestIds
{
    public const string Header = "x-request-id";

    public static string AcceptOrMint(HttpContext context)
    {
        var incoming = context.Request.Headers[Header];
        string id;
        if (incoming.Count == 1 && incoming[0] is { Length: > 0 and <= 128 } value && IsSafe(value)) id = value;
        else id = Mint();
        context.Response.Headers[Header] = id;
        return id;
    }

    private static readonly string Prefix = "req_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
    private static long _counter;

    /// <summary>Unique per process (random prefix) and cheap: no random bytes per request.</summary>
    private static string Mint() => string.Create(Prefix.Length + 12, Interlocked.Increment(ref _counter), static (span, n) =>
    {
        Prefix.CopyTo(span);
        ((ulong)n).TryFormat(span[Prefix.Length..], out _, "x12", System.Globalization.CultureInfo.InvariantCulture);
    });

    private static bool IsSafe(string value)
    {
        foreach (var c in value)
        {
            if (c < 0x21 || c > 0x7e) return false;
        }
        return true;
    }
}
