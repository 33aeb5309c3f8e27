using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// What E2B's API says about a sandbox beyond what the native sandbox knows: the template it was asked for, the hash of
/// its envd access token, whether it pauses on timeout, and whether it is running or paused (a paused sandbox has no
/// live <see cref="Sandbox"/>, so its record is what lists and resumes it).
/// </summary>
internal sealed class E2bSandboxRecord
{
    private volatile string _state = E2bStates.Running;

    public required string SandboxId { get; init; }
    public required string Owner { get; init; }
    /// <summary>The template as the client named it (<c>base</c>, <c>code-interpreter-v1</c>, a runtime).</summary>
    public required string TemplateId { get; init; }
    public string? Alias { get; init; }
    /// <summary>SHA-256 of the envd access token: the token itself is never kept (see <see cref="E2bSandboxes.TokenFor"/>).</summary>
    public required byte[] AccessTokenHash { get; init; }
    public ImmutableDictionary<string, string> Metadata { get; init; } = ImmutableDictionary<string, string>.Empty;
    public ImmutableDictionary<string, string> EnvVars { get; init; } = ImmutableDictionary<string, string>.Empty;
    public required DateTimeOffset StartedAt { get; init; }
    public bool AutoPause { get; init; }

    /// <summary><see cref="E2bStates.Running"/> or <see cref="E2bStates.Paused"/>.</summary>
    public string State { get => _state; set => _state = value; }

    /// <summary>Executions per code-interpreter context: the <c>execution_count</c> the code interpreter reports.</summary>
    public ConcurrentDictionary<string, int> ExecutionCounts { get; } = new(StringComparer.Ordinal);

    /// <summary>What happened to the sandbox (created, timeout set, paused, resumed), newest last: E2B's sandbox logs.</summary>
    public IEnumerable<E2bLogEntry> LogEntries => _log;

    private readonly ConcurrentQueue<E2bLogEntry> _log = new();
    private const int KeepLogEntries = 200;

    public void Log(DateTimeOffset at, string level, string message)
    {
        _log.Enqueue(new E2bLogEntry(at, level, message));
        while (_log.Count > KeepLogEntries) _log.TryDequeue(out _);
    }
}

/// <summary>One line of a sandbox's log; <paramref name="Level"/> is E2B's (debug, info, warn, error).</summary>
internal readonly record struct E2bLogEntry(DateTimeOffset Timestamp, string Level, string Message);

/// <summary>E2B's sandbox states as its API spells them.</summary>
internal static class E2bStates
{
    public const string Running = "running", Paused = "paused";
}

/// <summary>
/// The E2B records of this gateway, by sandbox id. The envd access token of a sandbox is an HMAC of its id under a key
/// only this process holds: connect must hand the token out again (the SDK reads it from the answer), yet nothing
/// that could be read back as the token is stored.
/// </summary>
internal sealed class E2bSandboxes
{
    private readonly ConcurrentDictionary<string, E2bSandboxRecord> _records = new(StringComparer.Ordinal);
    private readonly byte[] _tokenKey = RandomNumberGenerator.GetBytes(32);

    public void Add(E2bSandboxRecord record) => _records[record.SandboxId] = record;

    public E2bSandboxRecord? Find(string id) => _records.GetValueOrDefault(id);

    /// <summary>The record of <paramref name="record"/>'s sandbox: the one already kept, else this one (added).</summary>
    public E2bSandboxRecord GetOrAdd(E2bSandboxRecord record) => _records.GetOrAdd(record.SandboxId, record);

    public bool Remove(string id) => _records.TryRemove(id, out _);

    public IEnumerable<E2bSandboxRecord> ForOwner(string owner) => _records.Values.Where(r => r.Owner == owner);

    /// <summary>The envd access token of a sandbox (base64url, 32 bytes): the same for every call, so connect can return it.</summary>
    public string TokenFor(string sandboxId)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_tokenKey, Encoding.UTF8.GetBytes(sandboxId), mac);
        return Base64Url(mac);
    }

    /// <summary>SHA-256 of a token, as <see cref="E2bSandboxRecord.AccessTokenHash"/> keeps it.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Whether <paramref name="presented"/> is the record's token (constant time).</summary>
    public static bool Matches(E2bSandboxRecord record, string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 256) return false;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        return CryptographicOperations.FixedTimeEquals(hash, record.AccessTokenHash);
    }

    /// <summary>
    /// Forgets the records of sandboxes that have ended (expired, crashed, deleted through the native API); a paused
    /// one (by the E2B API or by its own timeout) keeps its record until it is resumed or killed.
    /// </summary>
    public void Prune(SandboxManager manager)
    {
        foreach (var (id, record) in _records)
            if (record.State == E2bStates.Running && manager.FindAny(id) is null && manager.FindPaused(record.Owner, id) is null)
                _records.TryRemove(id, out _);
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
