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

    private static string Mint()
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        return string.Create(28, bytes.ToArray(), static (span, b) =>
        {
            "req_".CopyTo(span);
            Convert.TryToHexStringLower(b, span[4..], out _);
        });
    }

    private static bool IsSafe(string value)
    {
        foreach (var c in value)
        {
            if (c < 0x21 || c > 0x7e) return false;
        }
        return true;
    }
}
