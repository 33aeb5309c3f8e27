using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// Tool results as the model reads them. A structured result is also its serialized JSON in a text block (the MCP
/// spec's advice for clients that do not read structuredContent); a failure the model can act on (an exception, a
/// non-zero exit, a missing file, a quota) is a result with isError and a sentence saying what happened.
/// </summary>
internal static class SandboxToolResults
{
    public static CallToolResult Failed(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };

    /// <summary>An agent's refusal, phrased for the model with what it can do about it.</summary>
    public static CallToolResult FromAgent(AgentException ex) => Failed(ex.Code switch
    {
        AgentErrors.NotFound => $"Not found: {ex.Message}",
        AgentErrors.Denied => $"Not permitted: {ex.Message} (only /home/user and /tmp, and what is below them, can be used).",
        AgentErrors.Busy => $"The interpreter is still running an earlier call ({ex.Message}); wait for it to finish, or give the next call a timeout.",
        AgentErrors.TooLarge => $"Too large: {ex.Message}",
        AgentErrors.Limit => $"The sandbox is at its process limit ({ex.Message}); end background processes before starting more.",
        AgentErrors.Invalid => $"Refused: {ex.Message}",
        "sandbox_gone" => "The sandbox ended during this call (it expired, ran out of quota or memory); the next call starts a new one, without the files and state of this one.",
        _ => $"The sandbox failed: {ex.Message}",
    });

    /// <summary>What the model is told when its earlier sandbox ended and this call runs in a new one.</summary>
    public static string? ReplacedNote(string? reason) => reason is null ? null
        : $"Note: your earlier sandbox ended ({reason}); this call ran in a new one, so earlier variables, imports and files are gone.";

    /// <summary>A structured result: the object <paramref name="write"/> writes, as structuredContent and as text.</summary>
    public static CallToolResult Structured(Action<Utf8JsonWriter> write, bool isError, string? note, IEnumerable<ContentBlock>? more = null)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var content = new List<ContentBlock>();
        if (note is not null) content.Add(new TextContentBlock { Text = note });
        content.Add(new TextContentBlock { Text = Encoding.UTF8.GetString(buffer.WrittenSpan) });
        if (more is not null) content.AddRange(more);
        return new CallToolResult { Content = content, StructuredContent = document.RootElement.Clone(), IsError = isError };
    }

    /// <summary>Content blocks alone (read_file's text, image or blob), after the note if there is one.</summary>
    public static CallToolResult Plain(ContentBlock block, string? note) => new()
    {
        Content = note is null ? [block] : [new TextContentBlock { Text = note }, block],
        IsError = false,
    };
}

/// <summary>
/// One run_code execution's events gathered into its result: text output, rich results (images as image content,
/// the rest as JSON), the uncaught exception, and how it ended.
/// </summary>
internal sealed class SandboxExecution
{
    private static readonly (string Field, string MimeType)[] ImageFields = [("png", "image/png"), ("jpeg", "image/jpeg")];
    /// <summary>The agent's result fields kept in the JSON (its images go in image blocks instead).</summary>
    private static readonly string[] ResultFields = ["is_main_result", "text", "html", "markdown", "svg", "latex", "json"];

    // The REST API's gatherer: the same events make the same fields in both APIs.
    private readonly Sandboxes.ExecutionResult _events = new();

    public void Add(AgentEvent e) => _events.Add(e);

    public CallToolResult ToResult(string? note)
    {
        var images = new List<ContentBlock>();
        foreach (var result in _events.Results)
            foreach (var (field, mimeType) in ImageFields)
                if (result.TryGetProperty(field, out var data) && data.ValueKind == JsonValueKind.String)
                    // The agent's base64 is the block's wire form already: no decoding and encoding again.
                    images.Add(new ImageContentBlock { Data = Encoding.UTF8.GetBytes(data.GetString()!), MimeType = mimeType });
        return SandboxToolResults.Structured(Write, isError: _events.Exception is not null, note, images);
    }

    private void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("stdout", _events.Stdout);
        w.WriteString("stderr", _events.Stderr);
        w.WriteStartArray("results");
        foreach (var r in _events.Results)
        {
            w.WriteStartObject();
            foreach (var p in r.EnumerateObject())
                if (ResultFields.Contains(p.Name)) p.WriteTo(w);
            var named = ImageFields.Where(f => r.TryGetProperty(f.Field, out _)).Select(f => f.MimeType).ToList();
            if (named.Count > 0)
            {
                w.WriteStartArray("images");
                foreach (var mimeType in named) w.WriteStringValue(mimeType);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (_events.Exception is { } ex)
        {
            w.WriteStartObject("error");
            foreach (var name in new[] { "name", "value", "traceback" })
                w.WriteString(name, ex.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : "");
            w.WriteEndObject();
        }
        else w.WriteNull("error");
        var done = _events.Done ?? default;
        w.WriteNumber("exit_code", done.ValueKind == JsonValueKind.Object && done.TryGetProperty("exit_code", out var code) && code.TryGetInt32(out var c) ? c : (_events.Exception is null ? 0 : 1));
        foreach (var flag in new[] { "truncated", "timed_out", "context_restarted" })
            w.WriteBoolean(flag, done.ValueKind == JsonValueKind.Object && done.TryGetProperty(flag, out var f) && f.ValueKind == JsonValueKind.True);
        w.WriteEndObject();
    }
}
