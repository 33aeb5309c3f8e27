using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes;

/// <summary>A validated create request: POST /v1/sandboxes (and seed 000's /v1/sandbox/create).</summary>
internal sealed partial record SandboxSpec
{
    public required string Runtime { get; init; }
    public required SandboxResources Resources { get; init; }
    public NetworkPolicy Network { get; init; } = NetworkPolicy.None;
    public ImmutableDictionary<string, string> Metadata { get; init; } = ImmutableDictionary<string, string>.Empty;
    public ImmutableDictionary<string, string> Env { get; init; } = ImmutableDictionary<string, string>.Empty;
    public ImmutableArray<string> Packages { get; init; } = [];
    /// <summary>The driver asked for (<c>"isolation"</c>); null: the runtime's or the gateway's default.</summary>
    public string? Isolation { get; init; }
    /// <summary>
    /// At its timeout the sandbox is paused (state kept, resumable) instead of ended (<c>"auto_pause"</c>, E2B's
    /// <c>autoPause</c>). A pause that is refused (a cap, a driver that cannot) ends it as before.
    /// </summary>
    public bool AutoPause { get; init; }
    /// <summary>The custom template it starts from (<c>"template": name</c>): its layer, env, working directory and start command.</summary>
    public Templates.SandboxTemplate? Template { get; init; }
    /// <summary>
    /// The template as an E2B client named it (<c>code-interpreter-v1</c>, <c>base</c>, a snapshot's id); null when
    /// created through the native API. Saved with a paused sandbox, so E2B's listing names it as created after a restart.
    /// </summary>
    public string? E2bTemplate { get; init; }

    /// <summary>Whether a warm pooled sandbox (default resources and driver, no network, nothing to install) can serve it.</summary>
    public bool FitsPool(SandboxResources defaults, string poolDriver) =>
        Network.Mode == NetworkMode.None && Packages.IsEmpty && Template is null && (Isolation is null || Isolation == poolDriver)
        && Resources.MemoryMb == defaults.MemoryMb && Resources.Cpu == defaults.Cpu && Resources.DiskMb == defaults.DiskMb;

    /// <param name="template">Resolves a <c>"template"</c> that is not a runtime to one of the caller's custom
    /// templates (null: no such template; an error: it cannot be used); without it only runtimes are known.</param>
    public static (SandboxSpec? Spec, ApiError? Error) Parse(JsonElement body, SandboxOptions options,
        Func<string, (Templates.SandboxTemplate? Template, ApiError? Error)>? template = null)
    {
        Templates.SandboxTemplate? custom = null;
        if (body.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined)) return (null, ApiError.BadRequest("The body must be a JSON object."));
        var runtime = "python";
        var resources = options.Defaults;
        NetworkPolicy network = NetworkPolicy.None;
        ImmutableDictionary<string, string> metadata = ImmutableDictionary<string, string>.Empty, env = ImmutableDictionary<string, string>.Empty;
        var packages = ImmutableArray<string>.Empty;
        string? networkMode = null, isolation = null;
        var autoPause = false;
        ImmutableArray<string> allowHosts = [];
        if (body.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in body.EnumerateObject())
            {
                var v = p.Value;
                ApiError? error = null;
                switch (p.Name)
                {
                    case "template" when template is not null && v.ValueKind == JsonValueKind.String && !SandboxOptions.Runtimes.Contains(v.GetString()!):
                        (custom, error) = template(v.GetString()!);
                        if (custom is null && error is null)
                            error = ApiError.BadRequest($"template must be one of: {string.Join(", ", SandboxOptions.Runtimes)}, or one of your templates (GET /v1/templates).", "template");
                        break;
                    case "runtime" or "template" or "language":
                        if (v.ValueKind != JsonValueKind.String || !SandboxOptions.Runtimes.Contains(v.GetString()!))
                            error = ApiError.BadRequest($"{p.Name} must be one of: {string.Join(", ", SandboxOptions.Runtimes)}.", p.Name);
                        else runtime = v.GetString()!;
                        break;
                    case "isolation":
                        if (v.ValueKind != JsonValueKind.String || !SandboxOptions.Drivers.Contains(v.GetString()!))
                            error = ApiError.BadRequest($"isolation must be one of: {string.Join(", ", SandboxOptions.Drivers)}.", "isolation");
                        else if (!options.OfferedDrivers.Contains(v.GetString()!))
                            error = ApiError.BadRequest($"isolation \"{v.GetString()}\" is not offered by this gateway (it offers: {string.Join(", ", options.OfferedDrivers)}; see sandboxes.drivers).", "isolation");
                        else isolation = v.GetString();
                        break;
                    case "timeout":
                        if (!PositiveSeconds(v, out var timeout) || timeout > options.Max.Timeout)
                            error = ApiError.BadRequest($"timeout must be a number of seconds between 1 and {options.Max.Timeout.TotalSeconds:0}.", "timeout");
                        else resources = resources with { Timeout = timeout };
                        break;
                    case "memory_mb":
                        if (!JsonValues.TryInt32(v, out var memory) || memory < 16 || memory > options.Max.MemoryMb)
                            error = ApiError.BadRequest($"memory_mb must be an integer between 16 and {options.Max.MemoryMb}.", "memory_mb");
                        else resources = resources with { MemoryMb = memory };
                        break;
                    case "cpu":
                        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var cpu) || cpu < 0.01 || cpu > options.Max.Cpu)
                            error = ApiError.BadRequest($"cpu must be a number between 0.01 and {options.Max.Cpu.ToString(CultureInfo.InvariantCulture)}.", "cpu");
                        else resources = resources with { Cpu = cpu };
                        break;
                    case "disk_mb":
                        if (!JsonValues.TryInt32(v, out var disk) || disk < 1 || disk > options.Max.DiskMb)
                            error = ApiError.BadRequest($"disk_mb must be an integer between 1 and {options.Max.DiskMb}.", "disk_mb");
                        else resources = resources with { DiskMb = disk };
                        break;
                    case "metadata":
                        (metadata, error) = StringMap(v, "metadata", 64, 1024, keyPattern: null);
                        break;
                    case "env" or "env_vars" or "envs":
                        (env, error) = StringMap(v, p.Name, 256, 32 * 1024, EnvName());
                        break;
                    case "network":
                        if (v.ValueKind != JsonValueKind.String || v.GetString() is not ("none" or "allowlist"))
                            error = ApiError.BadRequest("network must be \"none\" or \"allowlist\".", "network");
                        else networkMode = v.GetString();
                        break;
                    case "allow_hosts":
                        (allowHosts, error) = AllowHosts(v, options.Egress);
                        break;
                    case "packages":
                        (packages, error) = StringList(v, "packages", 100, PackageName(), "a package name with an optional version, such as numpy==2.1.0");
                        break;
                    case "auto_pause" or "autoPause":
                        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) error = ApiError.BadRequest($"{p.Name} must be true or false.", p.Name);
                        else autoPause = v.GetBoolean();
                        break;
                    default:
                        break; // unknown fields are ignored, as the OpenAI-style APIs do
                }
                if (error is not null) return (null, error);
            }
        }
        if (networkMode == "allowlist")
        {
            if (allowHosts.IsEmpty) return (null, ApiError.BadRequest("network \"allowlist\" needs allow_hosts: the host names the sandbox may reach.", "allow_hosts"));
            network = new NetworkPolicy(NetworkMode.Allowlist, allowHosts);
        }
        else if (!allowHosts.IsEmpty)
            return (null, ApiError.BadRequest("allow_hosts only applies with network \"allowlist\".", "allow_hosts"));

        var spec = new SandboxSpec { Runtime = runtime, Resources = resources, Network = network, Metadata = metadata, Env = env, Packages = packages, Isolation = isolation, AutoPause = autoPause };
        if (custom is not null) spec = custom.ApplyTo(spec);
        return (spec, null);
    }

    private static bool PositiveSeconds(JsonElement v, out TimeSpan value)
    {
        value = default;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var seconds) || seconds < 1 || seconds > 30 * 86400) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    internal static (ImmutableDictionary<string, string>, ApiError?) StringMap(JsonElement v, string name, int maxCount, int maxValue, Regex? keyPattern)
    {
        if (v.ValueKind == JsonValueKind.Null) return (ImmutableDictionary<string, string>.Empty, null);
        if (v.ValueKind != JsonValueKind.Object) return (ImmutableDictionary<string, string>.Empty, ApiError.BadRequest($"{name} must be an object of strings.", name));
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var p in v.EnumerateObject())
        {
            var text = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString()!,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                _ => null,
            };
            if (text is null) return (builder.ToImmutable(), ApiError.BadRequest($"{name}.{p.Name} must be a string.", name));
            if (keyPattern is not null && !keyPattern.IsMatch(p.Name)) return (builder.ToImmutable(), ApiError.BadRequest($"{name}: '{p.Name}' is not a valid name.", name));
            if (text.Length > maxValue || text.Contains('\0')) return (builder.ToImmutable(), ApiError.BadRequest($"{name}.{p.Name} is too long or contains NUL.", name));
            builder[p.Name] = text;
        }
        if (builder.Count > maxCount) return (builder.ToImmutable(), ApiError.BadRequest($"{name} may have at most {maxCount} entries.", name));
        return (builder.ToImmutable(), null);
    }

    internal static (ImmutableArray<string>, ApiError?) StringList(JsonElement v, string name, int maxCount, Regex pattern, string what)
    {
        if (v.ValueKind == JsonValueKind.Null) return ([], null);
        if (v.ValueKind != JsonValueKind.Array) return ([], ApiError.BadRequest($"{name} must be a list of strings.", name));
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !pattern.IsMatch(item.GetString()!))
                return ([], ApiError.BadRequest($"{name}: each item must be {what}.", name));
            builder.Add(item.GetString()!);
        }
        if (builder.Count > maxCount) return ([], ApiError.BadRequest($"{name} may have at most {maxCount} items.", name));
        return (builder.ToImmutable(), null);
    }

    /// <summary>
    /// The names a sandbox may reach: host names, never addresses or localhost (the proxy connects from the gateway's
    /// network), each within the operator's ceiling. Stored normalized (lower case, no trailing dot).
    /// </summary>
    private static (ImmutableArray<string>, ApiError?) AllowHosts(JsonElement v, Egress.EgressOptions egress)
    {
        const string Name = "allow_hosts";
        if (v.ValueKind == JsonValueKind.Null) return ([], null);
        if (v.ValueKind != JsonValueKind.Array) return ([], ApiError.BadRequest($"{Name} must be a list of host names.", Name));
        if (v.GetArrayLength() > 64) return ([], ApiError.BadRequest($"{Name} may have at most 64 items.", Name));
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) return ([], ApiError.BadRequest($"{Name}: each item must be a host name such as pypi.org or *.example.com.", Name));
            var text = item.GetString()!;
            var name = Egress.EgressHostNames.Normalize(text);
            if (Egress.EgressHostNames.Problem(name, wildcard: true) is { } problem)
                return ([], ApiError.BadRequest($"{Name}: '{Shown(text)}' {problem}.", Name));
            if (!egress.Permits(name))
                return ([], ApiError.BadRequest(egress.AllowHosts!.Value.IsEmpty
                    ? $"{Name}: '{name}' is not permitted: this gateway allows no egress (sandboxes.egress.allow_hosts is empty)."
                    : $"{Name}: '{name}' is not permitted by this gateway (sandboxes.egress.allow_hosts: {string.Join(", ", egress.AllowHosts!)}).", Name));
            if (!builder.Contains(name)) builder.Add(name);
        }
        return (builder.ToImmutable(), null);
    }

    /// <summary>An entry as quoted back in an error: bounded, and only printable ASCII.</summary>
    private static string Shown(string text)
    {
        var cut = text.Length > 80 ? text[..80] + "..." : text;
        return string.Create(cut.Length, cut, (span, s) => { for (var i = 0; i < s.Length; i++) span[i] = s[i] is >= ' ' and <= '~' ? s[i] : '?'; });
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    internal static partial Regex EnvName();

    [GeneratedRegex(@"^(@[a-z0-9][a-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}(\[[A-Za-z0-9,_-]+\])?((==|>=|<=|~=|!=|>|<|@)[A-Za-z0-9.*+!_-]{1,64})?$")]
    internal static partial Regex PackageName();
}
