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
    /// <summary>SHA-256 of the envd access token: the token itself is never kept (see <see cref="E2bSandboxes.TokenFor"/>).</summary>
    public required byte[] AccessTokenHash { get; init; }
    /// <summary>SHA-256 of the traffic access token (<see cref="E2bSandboxes.TrafficTokenFor"/>); empty: none matches.</summary>
    public byte[] TrafficTokenHash { get; init; } = [];
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
/// The E2B records of this gateway, by sandbox id. A record is kept in memory and rebuilt from what the sandbox
/// manager keeps on disk (a paused sandbox's spec, with its E2B template name) when the gateway restarts. A sandbox's
/// access tokens are HMACs of its id under this host's durable key (<see cref="E2bTokenKey"/>): connect hands them out
/// again, the same as before a restart, yet nothing that could be read back as a token is stored.
/// </summary>
internal sealed class E2bSandboxes(SandboxManager manager, E2bTokenKey key, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, E2bSandboxRecord> _records = new(StringComparer.Ordinal);

    public void Add(E2bSandboxRecord record) => _records[record.SandboxId] = record;

    /// <summary>
    /// The record of sandbox <paramref name="id"/>; for a paused sandbox this gateway has no record of (it was paused
    /// before a restart), one rebuilt from its saved spec.
    /// </summary>
    public E2bSandboxRecord? Find(string id)
    {
        if (_records.TryGetValue(id, out var record)) return record;
        if (manager.FindPaused(id) is not { } paused) return null;
        var rebuilt = New(paused.Id, paused.Owner, paused.Spec, paused.CreatedAt, E2bStates.Paused);
        rebuilt.Log(time.GetUtcNow(), "info", "Sandbox paused (its record restored after a gateway restart)");
        return _records.GetOrAdd(id, rebuilt);
    }

    /// <summary>The record of <paramref name="record"/>'s sandbox: the one already kept, else this one (added).</summary>
    public E2bSandboxRecord GetOrAdd(E2bSandboxRecord record) => _records.GetOrAdd(record.SandboxId, record);

    public bool Remove(string id) => _records.TryRemove(id, out _);

    /// <summary>A new record of a sandbox: its template as the E2B client named it (else its runtime), its tokens' hashes.</summary>
    public E2bSandboxRecord New(string id, string owner, SandboxSpec spec, DateTimeOffset startedAt, string state) => new()
    {
        SandboxId = id,
        Owner = owner,
        TemplateId = TemplateOf(spec),
        AccessTokenHash = Hash(TokenFor(id)),
        TrafficTokenHash = Hash(TrafficTokenFor(id)),
        Metadata = spec.Metadata,
        EnvVars = spec.Env,
        StartedAt = startedAt,
        AutoPause = spec.AutoPause,
        State = state,
    };

    /// <summary>E2B's <c>templateID</c> of a sandbox: the name the client created it with, else its runtime.</summary>
    public static string TemplateOf(SandboxSpec spec) => spec.E2bTemplate ?? spec.Template?.Name ?? spec.Runtime;

    /// <summary>The envd access token of a sandbox (base64url, 32 bytes): the same for every call, so connect can return it.</summary>
    public string TokenFor(string sandboxId) => key.EnvdToken(sandboxId);

    /// <summary>The traffic access token of a sandbox, which the code interpreter SDKs send on their context calls.</summary>
    public string TrafficTokenFor(string sandboxId) => key.TrafficToken(sandboxId);

    /// <summary>SHA-256 of a token, as <see cref="E2bSandboxRecord.AccessTokenHash"/> keeps it.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Whether <paramref name="presented"/> is the record's envd token (constant time).</summary>
    public static bool Matches(E2bSandboxRecord record, string? presented) => Matches(record.AccessTokenHash, presented);

    /// <summary>Whether <paramref name="presented"/> is the record's traffic token (constant time).</summary>
    public static bool MatchesTraffic(E2bSandboxRecord record, string? presented) => Matches(record.TrafficTokenHash, presented);

    private static bool Matches(byte[] expected, string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 256 || expected.Length != 32) return false;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        return CryptographicOperations.FixedTimeEquals(hash, expected);
    }

    /// <summary>
    /// Forgets the records of sandboxes that have ended (expired, crashed, deleted through the native API, a paused one
    /// deleted there); a paused one keeps its record. One caught mid-pause (neither live nor paused for a moment) may go
    /// too: <see cref="Find"/> makes it again from the paused sandbox's saved spec.
    /// </summary>
    public void Prune()
    {
        foreach (var (id, record) in _records)
            if (manager.FindAny(id) is null && manager.FindPaused(record.Owner, id) is null)
                _records.TryRemove(id, out _);
    }
}
