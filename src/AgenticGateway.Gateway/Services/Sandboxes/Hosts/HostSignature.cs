using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>
/// The mark of a call one sandbox host forwards to another: <c>Agw-Host-Call: v1;from;to;unix-seconds;signature</c>,
/// the signature an HMAC-SHA256 with the hosts' shared secret over those fields, the method, path and query. It says
/// only "a host sent this here to be served locally", never who the caller is: the receiving host authenticates the
/// client's own credentials again. Bound to the receiving host and to a minute, so a captured one cannot be replayed
/// elsewhere or later.
/// </summary>
internal sealed class HostSignature(byte[] secret, string self, TimeProvider time)
{
    public const string Header = "Agw-Host-Call";
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    public string Self { get; } = self;

    /// <summary>The header value for a call from this host to <paramref name="to"/>.</summary>
    public string Sign(string to, string method, string pathAndQuery)
    {
        var seconds = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"v1;{Self};{to};{seconds};{Mac(Self, to, seconds, method, pathAndQuery)}";
    }

    /// <summary>Whether the header was made by a host holding the secret, for this host, this request, and within a minute.</summary>
    public bool Verify(string? value, string method, string pathAndQuery)
    {
        if (value is null || value.Length > 512) return false;
        var parts = value.Split(';');
        if (parts is not ["v1", var from, var to, var seconds, var mac] || to != Self) return false;
        if (!long.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var unix) || unix > 32503680000) return false;
        var age = time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(unix);
        if (age > Skew || age < -Skew) return false;
        var expected = Encoding.ASCII.GetBytes(Mac(from, to, seconds, method, pathAndQuery));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(mac));
    }

    private string Mac(string from, string to, string seconds, string method, string pathAndQuery)
    {
        var message = Encoding.UTF8.GetBytes($"v1\n{from}\n{to}\n{seconds}\n{method}\n{pathAndQuery}");
        return Base64Url.EncodeToString(HMACSHA256.HashData(secret, message));
    }
}
