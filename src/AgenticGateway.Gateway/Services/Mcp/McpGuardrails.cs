using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Json;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// LiteLLM's MCP guardrail modes on a tool call (docs/my-website/docs/mcp_guardrail.md): <c>pre_mcp_call</c> on the
/// arguments before the call, <c>during_mcp_call</c> on the arguments while the call runs (its result waits for the
/// verdict), <c>post_mcp_call</c> on the result before the caller (usually a model) reads it; the sandbox server's
/// results go through <c>sandbox_output</c> guardrails too. The texts are every string in the arguments or the result
/// (text blocks, embedded text resources and structured content), so a mask rewrites them in place and keeps their JSON shape. A block is a
/// tool error (<c>isError</c>) naming the guardrail, which a model can read and act on.
/// </summary>
internal sealed class McpGuardrails(IContentGuardrails? guardrails)
{
    /// <summary>Whether anything runs for this caller in these modes (no texts are collected otherwise).</summary>
    public bool Any(Caller caller, GuardrailMode mode) => guardrails?.AnyFor(mode, caller) == true;

    /// <summary>The arguments' check: the arguments to send (masked where needed), or a block.</summary>
    public async ValueTask<(IReadOnlyDictionary<string, JsonElement>? Args, ContentCheck? Check)> ArgumentsAsync(GuardrailMode mode,
        IReadOnlyDictionary<string, JsonElement>? args, Caller caller, string requestId, string tool, CancellationToken ct)
    {
        if (guardrails is null || args is null || !guardrails.AnyFor(mode, caller)) return (args, null);
        var texts = new List<string>();
        foreach (var value in args.Values) JsonStrings.Collect(value, texts);
        if (texts.Count == 0) return (args, null);
        var check = await guardrails.CheckAsync(mode, texts, caller, requestId, tool, ct);
        if (check.Blocked || SameTexts(texts, check.Texts)) return (args, check);
        var index = 0;
        var masked = new Dictionary<string, JsonElement>(args.Count, StringComparer.Ordinal);
        foreach (var (name, value) in args) masked[name] = JsonStrings.Rewrite(value, check.Texts, ref index);
        return (masked, check);
    }

    /// <summary>The result's check in <paramref name="mode"/>: the result to return (masked where needed, or a tool error on a block).</summary>
    public async ValueTask<(CallToolResult Result, ContentCheck? Check)> ResultAsync(GuardrailMode mode, CallToolResult result, Caller caller, string requestId, string tool, CancellationToken ct)
    {
        if (guardrails is null || !guardrails.AnyFor(mode, caller)) return (result, null);
        var texts = new List<string>();
        // Text blocks and embedded text resources (a tool may return a file's text as a resource): both reach the model.
        foreach (var block in result.Content)
        {
            if (block is TextContentBlock text) texts.Add(text.Text);
            else if (block is EmbeddedResourceBlock { Resource: TextResourceContents resource }) texts.Add(resource.Text);
        }
        if (result.StructuredContent is { } structured) JsonStrings.Collect(structured, texts);
        if (texts.Count == 0) return (result, null);
        var check = await guardrails.CheckAsync(mode, texts, caller, requestId, tool, ct);
        if (check.Blocked) return (Blocked(check, "the result of " + tool), check);
        if (SameTexts(texts, check.Texts)) return (result, check);
        var index = 0;
        var content = new List<ContentBlock>(result.Content.Count);
        foreach (var block in result.Content)
            content.Add(block switch
            {
                TextContentBlock t => new TextContentBlock { Text = check.Texts[index++], Annotations = t.Annotations, Meta = t.Meta },
                EmbeddedResourceBlock { Resource: TextResourceContents r } e => new EmbeddedResourceBlock
                {
                    Resource = new TextResourceContents { Uri = r.Uri, MimeType = r.MimeType, Meta = r.Meta, Text = check.Texts[index++] },
                    Annotations = e.Annotations,
                    Meta = e.Meta,
                },
                _ => block,
            });
        var masked = new CallToolResult { Content = content, IsError = result.IsError, Meta = result.Meta };
        if (result.StructuredContent is { } s) masked.StructuredContent = JsonStrings.Rewrite(s, check.Texts, ref index);
        return (masked, check);
    }

    /// <summary>The tool error a block becomes.</summary>
    public static CallToolResult Blocked(ContentCheck check, string what) =>
        new() { IsError = true, Content = [new TextContentBlock { Text = check.BlockMessage(what) }] };

    /// <summary>The spend log's guardrail_information of several checks (JSON arrays joined), or null.</summary>
    public static string? Information(params ContentCheck?[] checks)
    {
        var parts = checks.Where(c => c?.InformationJson is { Length: > 2 }).Select(c => c!.InformationJson![1..^1]).ToList();
        return parts.Count == 0 ? null : "[" + string.Join(',', parts) + "]";
    }

    private static bool SameTexts(List<string> sent, IReadOnlyList<string> back)
    {
        if (sent.Count != back.Count) return false;
        for (var i = 0; i < sent.Count; i++)
            if (!string.Equals(sent[i], back[i], StringComparison.Ordinal)) return false;
        return true;
    }
}
