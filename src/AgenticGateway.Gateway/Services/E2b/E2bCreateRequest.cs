using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes;

using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's create body (<c>NewSandbox</c>) as a native <see cref="SandboxSpec"/>: its fields are rewritten into the
/// native API's names and parsed by <see cref="SandboxSpec.Parse"/>, so both APIs validate a sandbox the same way.
/// </summary>
internal static partial class E2bCreateRequest
{
    public sealed record Parsed(SandboxSpec Spec, string Template);

    /// <param name="snapshotRuntime">The runtime of the snapshot <c>templateID</c> names, when it names one of the caller's.</param>
    public static (Parsed? Request, ApiError? Error) Parse(JsonElement body, SandboxOptions options, string? snapshotRuntime = null)
    {
        if (body.ValueKind != JsonValueKind.Object) return (null, ApiError.BadRequest("The body must be a JSON object."));
        if (!body.TryGetProperty("templateID", out var t) || t.ValueKind != JsonValueKind.String || t.GetString() is not { Length: > 0 } template)
            return (null, ApiError.BadRequest($"templateID is required: one of {string.Join(", ", E2bTemplates.Names)}.", "templateID"));
        if ((snapshotRuntime ?? E2bTemplates.Runtime(template)) is not { } runtime)
            return (null, ApiError.BadRequest($"Template '{SandboxHttp.Truncate(template)}' is not on this gateway; it has: {string.Join(", ", E2bTemplates.Names)} (and your snapshots' ids).", "templateID"));
        // What this gateway cannot give is refused by name rather than dropped: the SDK would otherwise run on
        // believing it has, say, a volume mounted.
        foreach (var name in (ReadOnlySpan<string>)["mcp", "volumeMounts", "iam"])
            if (body.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)
                && !(v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0))
                return (null, ApiError.BadRequest($"{name} is not supported by this gateway's E2B API.", name));
        if (body.TryGetProperty("autoResume", out var resume) && resume.ValueKind == JsonValueKind.Object
            && resume.TryGetProperty("enabled", out var enabled) && enabled.ValueKind == JsonValueKind.True)
            return (null, ApiError.BadRequest("autoResume is not supported: a paused sandbox resumes on Sandbox.connect.", "autoResume"));
        var autoPause = false;
        if (body.TryGetProperty("autoPause", out var pause))
        {
            if (pause.ValueKind is JsonValueKind.True or JsonValueKind.False) autoPause = pause.GetBoolean();
            else if (pause.ValueKind != JsonValueKind.Null) return (null, ApiError.BadRequest("autoPause must be a boolean.", "autoPause"));
        }
        var (hosts, hostsError) = AllowedHosts(body);
        if (hostsError is not null) return (null, hostsError);

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("runtime", runtime);
            if (body.TryGetProperty("timeout", out var timeout) && timeout.ValueKind != JsonValueKind.Null)
            {
                w.WritePropertyName("timeout");
                timeout.WriteTo(w);
            }
            if (body.TryGetProperty("metadata", out var metadata))
            {
                w.WritePropertyName("metadata");
                metadata.WriteTo(w);
            }
            if (body.TryGetProperty("envVars", out var env))
            {
                w.WritePropertyName("envs");
                env.WriteTo(w);
            }
            if (hosts.Count > 0)
            {
                w.WriteString("network", "allowlist");
                w.WriteStartArray("allow_hosts");
                foreach (var h in hosts) w.WriteStringValue(h);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        var reader = new Utf8JsonReader(buffer.WrittenSpan);
        using var native = JsonDocument.ParseValue(ref reader);
        var (spec, error) = SandboxSpec.Parse(native.RootElement, options);
        if (error is not null) return (null, error with { Message = E2bNames(error.Message), Param = error.Param is { } p ? E2bNames(p) : null });
        // The template's name is kept with the spec (and saved with a paused sandbox): E2B lists the sandbox by it.
        return (new Parsed(spec! with { AutoPause = autoPause, E2bTemplate = template }, template), null);
    }

    /// <summary>
    /// <c>network.allowOut</c>'s host names: the sandbox may reach those (through the gateway's egress proxy, within
    /// the operator's ceiling). Addresses and CIDRs are refused: egress here is filtered by name. denyOut needs nothing:
    /// without allowOut a sandbox has no network. <c>allow_internet_access</c> opens nothing: E2B's Python SDK sends
    /// <c>true</c> on every create (its default), so refusing it would refuse every create, and granting the operator's
    /// whole list to every sandbox would make network on the default; the answer's <c>allowInternetAccess</c> says false.
    /// </summary>
    private static (List<string> Hosts, ApiError? Error) AllowedHosts(JsonElement body)
    {
        var hosts = new List<string>();
        if (!body.TryGetProperty("network", out var network) || network.ValueKind != JsonValueKind.Object) return (hosts, null);
        if (network.TryGetProperty("allowOut", out var allow) && allow.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in allow.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 } host)
                    return (hosts, ApiError.BadRequest("network.allowOut must be a list of host names.", "network"));
                if (host.Contains('/') || System.Net.IPAddress.TryParse(host, out _))
                    return (hosts, ApiError.BadRequest($"network.allowOut: '{SandboxHttp.Truncate(host)}' is an address; this gateway filters egress by host name (such as pypi.org).", "network"));
                hosts.Add(host);
            }
        }
        return (hosts, null);
    }

    /// <summary>The native parser's field names in a message, as the E2B client wrote them (a config key such as sandboxes.egress.allow_hosts stays).</summary>
    private static string E2bNames(string message) => EnvsField().Replace(AllowHostsField().Replace(message, "network.allowOut"), "envVars");

    [GeneratedRegex(@"(?<![\w.])allow_hosts\b")]
    private static partial Regex AllowHostsField();

    [GeneratedRegex(@"(?<![\w.])envs\b")]
    private static partial Regex EnvsField();

}
