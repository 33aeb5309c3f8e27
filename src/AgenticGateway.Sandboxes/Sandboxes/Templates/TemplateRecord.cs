using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// A built (or building) template of one owner, kept as JSON in the data directory so it outlives a restart. Its
/// layer is <see cref="Digest"/>'s directory in the cache, shared with any other template of the same spec and inputs.
/// </summary>
internal sealed record TemplateRecord
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Owner { get; init; }
    public bool Public { get; init; }
    public required string Runtime { get; init; }
    /// <summary>The last successful build's layer; null until one succeeded.</summary>
    public string? Digest { get; init; }
    public ImmutableDictionary<string, string> Env { get; init; } = ImmutableDictionary<string, string>.Empty;
    public string Workdir { get; init; } = TemplatePaths.Home;
    public string? StartCommand { get; init; }
    public long LayerBytes { get; init; }
    public string? LastBuildId { get; init; }
    public int BuildCount { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>One build's state and log, kept in memory (a restart forgets builds, not templates).</summary>
internal sealed class TemplateBuild(string id, string templateId, string digest, DateTimeOffset startedAt)
{
    private readonly Lock _gate = new();
    private readonly List<TemplateLogLine> _log = [];
    private const int MaxLines = 5000;
    private const int MaxLineChars = 4096;
    /// <summary>A build's log is bounded in characters too: a step printing without end cannot fill the gateway's memory.</summary>
    private const int MaxChars = 1 << 20;
    private int _chars;

    public string Id { get; } = id;
    public string TemplateId { get; } = templateId;
    public string Digest { get; } = digest;
    public DateTimeOffset StartedAt { get; } = startedAt;
    /// <summary>building, ready or error (E2B's TemplateBuildStatus values).</summary>
    public string Status { get; private set; } = "building";
    public string? Error { get; private set; }
    /// <summary>The step (its line) the build failed at.</summary>
    public int? FailedLine { get; private set; }
    public bool Cached { get; private set; }
    public DateTimeOffset? FinishedAt { get; private set; }

    public void Log(string message, string level = "info")
    {
        lock (_gate)
        {
            var line = message.Length > MaxLineChars ? message[..MaxLineChars] + "..." : message;
            // Errors always get in: the reason a build failed is never the line that was dropped.
            if ((_log.Count >= MaxLines || _chars + line.Length > MaxChars) && level != "error") return;
            _chars += line.Length;
            _log.Add(new TemplateLogLine(DateTimeOffset.UtcNow, level, line));
        }
    }

    public IReadOnlyList<TemplateLogLine> Lines(int offset = 0)
    {
        lock (_gate) return offset >= _log.Count ? [] : _log.GetRange(offset, _log.Count - offset);
    }

    public void Succeeded(bool cached, DateTimeOffset at) { Cached = cached; FinishedAt = at; Status = "ready"; }

    public void Failed(string error, int? line, DateTimeOffset at)
    {
        Log(error, "error");
        Error = error;
        FailedLine = line;
        FinishedAt = at;
        Status = "error";
    }
}

internal sealed record TemplateLogLine(DateTimeOffset Timestamp, string Level, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TemplateRecord))]
internal sealed partial class TemplateJson : JsonSerializerContext;
