using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// The key a sandbox's E2B access tokens are derived from: 32 random bytes in <c>e2b-token.key</c> in the data
/// directory, made once (owner-only, written whole under a temporary name and then linked into place) and read at
/// every start, so a token handed out before a restart still opens the sandbox after it. The key is never logged.
/// <para>
/// Each sandbox host keeps its own: a token is checked only by the host that holds the sandbox (every call naming a
/// sandbox is forwarded there, and a paused sandbox's state stays on that host's disk), so hosts need not share it,
/// and a host that leaks its key cannot mint tokens for another host's sandboxes.
/// </para>
/// </summary>
internal sealed partial class E2bTokenKey
{
    public const string FileName = "e2b-token.key";
    private const int Length = 32;
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // One key per kind of token (HKDF-Expand with a label), so an envd token is never also a traffic token.
    private readonly byte[] _envd, _traffic;

    private E2bTokenKey(byte[] key)
    {
        _envd = HKDF.Expand(HashAlgorithmName.SHA256, key, Length, "agentic-gateway e2b envd-access-token v1"u8.ToArray());
        _traffic = HKDF.Expand(HashAlgorithmName.SHA256, key, Length, "agentic-gateway e2b traffic-access-token v1"u8.ToArray());
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>The key of <paramref name="dataDirectory"/>, made there when it has none (or an unreadable one, said in the log).</summary>
    public static E2bTokenKey Load(string dataDirectory, ILogger logger)
    {
        var path = Path.Join(Path.GetFullPath(dataDirectory), FileName);
        if (File.Exists(path))
        {
            var key = File.ReadAllBytes(path);
            if (key.Length == Length)
            {
                // Readable by others (copied in, restored from a backup): the owner's alone from now on.
                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
                {
                    File.SetUnixFileMode(path, OwnerOnly);
                    TightenedMode(logger, path);
                }
                return new E2bTokenKey(key);
            }
            Replaced(logger, path, key.Length, Length);
            File.Delete(path);
        }
        return new E2bTokenKey(Create(path));
    }

    /// <summary>Writes a new key under a temporary name (owner-only from its creation, flushed to disk) and links it into place.</summary>
    private static byte[] Create(string path)
    {
        var key = RandomNumberGenerator.GetBytes(Length);
        var temporary = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var file = new FileStream(temporary, options))
            {
                file.Write(key);
                file.Flush(flushToDisk: true);
            }
            // Never over an existing key: one process holds the data directory (its lock), but a key is not replaced blindly.
            File.Move(temporary, path, overwrite: false);
        }
        finally
        {
            File.Delete(temporary);
        }
        return key;
    }

    /// <summary>The envd access token of a sandbox (base64url of an HMAC of its id): the same on every call and after a restart.</summary>
    public string EnvdToken(string sandboxId) => Token(_envd, sandboxId);

    /// <summary>The traffic access token of a sandbox: what the code interpreter SDKs send on their context calls.</summary>
    public string TrafficToken(string sandboxId) => Token(_traffic, sandboxId);

    private static string Token(byte[] key, string sandboxId)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(sandboxId), mac);
        return System.Buffers.Text.Base64Url.EncodeToString(mac);
    }

    [LoggerMessage(EventId = 2241, Level = LogLevel.Warning, Message = "E2B token key {Path} was readable by others; it is now readable by its owner only")]
    private static partial void TightenedMode(ILogger logger, string path);

    [LoggerMessage(EventId = 2242, Level = LogLevel.Warning, Message = "E2B token key {Path} has {Length} bytes, not {Expected}: replaced by a new key (E2B handles from before need Sandbox.connect again for a new token)")]
    private static partial void Replaced(ILogger logger, string path, int length, int expected);
}
