using System.Text.Json;
using AgenticGateway.Json;
using ModelContextProtocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// A sandbox tool's arguments, checked against its schema. Anything the schema does not allow is a JSON-RPC
/// invalid-params error naming the argument, raised before a sandbox is touched; a JSON null counts as absent.
/// </summary>
internal readonly struct SandboxToolArguments
{
    /// <summary>Paths are bounded like the REST API's (PATH_MAX); the agent checks the rest.</summary>
    private const int MaxPathLength = 4096;

    private readonly string _tool;
    private readonly IReadOnlyDictionary<string, JsonElement> _values;

    public SandboxToolArguments(string tool, IReadOnlyDictionary<string, JsonElement>? values, params string[] allowed)
    {
        _tool = tool;
        _values = values ?? new Dictionary<string, JsonElement>();
        foreach (var name in _values.Keys)
            if (!allowed.Contains(name, StringComparer.Ordinal))
                throw Invalid($"unknown argument '{Shown(name)}' (it takes {string.Join(", ", allowed)})");
    }

    public string RequiredString(string name, int maxLength, bool allowEmpty = false) =>
        OptionalString(name, maxLength) is { } value && (allowEmpty || value.Length > 0)
            ? value
            : throw Invalid($"{name} is required{(allowEmpty ? "" : " and may not be empty")}");

    public string? OptionalString(string name, int maxLength)
    {
        if (!_values.TryGetValue(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw Invalid($"{name} must be a string");
        var value = v.GetString()!;
        if (value.Length > maxLength) throw Invalid($"{name} is longer than {maxLength} characters");
        return value;
    }

    /// <summary>A path the agent is given as it is (it resolves relative paths and confines them); never empty or with NUL.</summary>
    public string? OptionalPath(string name)
    {
        var path = OptionalString(name, MaxPathLength);
        if (path is not null && (path.Length == 0 || path.Contains('\0'))) throw Invalid($"{name} must be a non-empty path without NUL characters");
        return path;
    }

    public string RequiredPath(string name) => OptionalPath(name) ?? throw Invalid($"{name} is required");

    /// <summary>A timeout in seconds: more than zero and at most <paramref name="max"/>; <paramref name="fallback"/> when absent.</summary>
    public TimeSpan Timeout(string name, TimeSpan fallback, TimeSpan max)
    {
        if (!_values.TryGetValue(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (!JsonValues.TrySeconds(v, 0, max, out var timeout) || timeout <= TimeSpan.Zero)
            throw Invalid($"{name} must be a number of seconds above 0 and at most {max.TotalSeconds:0}");
        return timeout;
    }

    public McpProtocolException Invalid(string problem) => new($"Invalid arguments for tool {_tool}: {problem}.", McpErrorCode.InvalidParams);

    /// <summary>An argument's name as quoted back: bounded, printable ASCII only.</summary>
    private static string Shown(string text)
    {
        var cut = text.Length > 64 ? text[..64] + "..." : text;
        return string.Create(cut.Length, cut, (span, s) => { for (var i = 0; i < s.Length; i++) span[i] = s[i] is >= ' ' and <= '~' ? s[i] : '?'; });
    }
}
