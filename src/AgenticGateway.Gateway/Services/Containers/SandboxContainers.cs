using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Containers;

/// <summary>
/// OpenAI's containers as this gateway's sandboxes. A container is a python sandbox created here; its id is the
/// sandbox's own ("sb-" + 20 hex digits becomes "cntr_" + the same digits), so there is no second map to keep or lose,
/// and its name and idle expiry travel in the sandbox's metadata. Lookups go through <see cref="SandboxManager.Find"/>,
/// which answers only the owner, so another key's container is never found. Idle expiry is the sandbox's own
/// timeout, pushed forward on every use.
/// </summary>
internal sealed class SandboxContainers(SandboxManager manager, TimeProvider time)
{
    private const string IdPrefix = "cntr_";
    private const string SandboxPrefix = "sb-";
    private const string MarkerKey = "created_by";
    private const string MarkerValue = "containers";
    private const string NameKey = "container_name";
    private const string MinutesKey = "container_expires_after_minutes";
    private const string MemoryKey = "container_memory_limit";

    public SandboxManager Manager => manager;

    /// <summary>The longest idle expiry a container may ask for: the sandboxes' maximum lifetime.</summary>
    public int MaxMinutes => (int)Math.Min(int.MaxValue, Math.Floor(manager.Options.Max.Timeout.TotalMinutes));

    public static string IdOf(Sandbox sandbox) => IdPrefix + sandbox.Id[SandboxPrefix.Length..];

    public async Task<(Sandbox? Sandbox, ApiError? Error)> CreateAsync(string owner, ContainerRequest request, CancellationToken ct)
    {
        var options = manager.Options;
        // The sandbox spec's own reader checks what it knows (memory within the maximum, domains within the egress
        // ceiling); its parameter names are mapped back to the containers API's.
        var body = new JsonObject
        {
            ["runtime"] = "python",
            ["timeout"] = request.Minutes * 60,
            ["metadata"] = new JsonObject
            {
                [MarkerKey] = MarkerValue,
                [NameKey] = request.Name,
                [MinutesKey] = request.Minutes.ToString(CultureInfo.InvariantCulture),
            },
        };
        if (request.MemoryLimit is { } memory)
        {
            var mb = ContainerRequest.MemoryTiers[memory];
            if (mb > options.Max.MemoryMb)
                return (null, ApiError.BadRequest($"memory_limit \"{memory}\" is more than this gateway allows ({options.Max.MemoryMb} MiB, sandboxes.max.memory_mb).", "memory_limit"));
            body["memory_mb"] = mb;
            body["metadata"]!.AsObject()[MemoryKey] = memory;
        }
        if (!request.AllowedDomains.IsEmpty)
        {
            body["network"] = "allowlist";
            body["allow_hosts"] = new JsonArray([.. request.AllowedDomains.Select(d => (JsonNode)d)]);
        }
        using var document = JsonDocument.Parse(body.ToJsonString());
        var (spec, error) = SandboxSpec.Parse(document.RootElement, options);
        if (error is not null)
            return (null, error with
            {
                Param = error.Param switch
                {
                    "allow_hosts" => "network_policy.allowed_domains",
                    "memory_mb" => "memory_limit",
                    "timeout" => "expires_after.minutes",
                    var p => p,
                },
                Message = error.Message.Replace("allow_hosts", "network_policy.allowed_domains", StringComparison.Ordinal),
            });
        return await manager.CreateAsync(owner, spec!, ct);
    }

    /// <summary>The owner's container by id; null for a missing, ended or foreign one, or a sandbox made through the sandbox API.</summary>
    public Sandbox? Find(string owner, string containerId)
    {
        if (!containerId.StartsWith(IdPrefix, StringComparison.Ordinal) || containerId.Length != IdPrefix.Length + 20
            || containerId.AsSpan(IdPrefix.Length).IndexOfAnyExcept("0123456789abcdef") >= 0) return null;
        return manager.Find(owner, SandboxPrefix + containerId[IdPrefix.Length..]) is { } sandbox && IsContainer(sandbox) ? sandbox : null;
    }

    public IEnumerable<Sandbox> List(string owner) => manager.List(owner).Where(IsContainer);

    public Task DeleteAsync(Sandbox sandbox) => manager.EndAsync(sandbox, "deleted");

    /// <summary>
    /// Marks the container used now: it expires its idle minutes after <paramref name="busyFor"/> (a run's longest
    /// time) from now, within the sandboxes' maximum lifetime.
    /// </summary>
    public void Touch(Sandbox sandbox, TimeSpan busyFor)
    {
        var wanted = TimeSpan.FromMinutes(MinutesOf(sandbox)) + busyFor;
        if (wanted > manager.Options.Max.Timeout) wanted = manager.Options.Max.Timeout;
        manager.Extend(sandbox, wanted);
    }

    public static string NameOf(Sandbox sandbox) => sandbox.Spec.Metadata.GetValueOrDefault(NameKey, "");

    public static int MinutesOf(Sandbox sandbox) =>
        sandbox.Spec.Metadata.TryGetValue(MinutesKey, out var m) && int.TryParse(m, CultureInfo.InvariantCulture, out var minutes) ? minutes : ContainerRequest.DefaultMinutes;

    private static bool IsContainer(Sandbox sandbox) =>
        sandbox.Spec.Metadata.TryGetValue(MarkerKey, out var marker) && marker == MarkerValue && sandbox.Runtime == "python";

    /// <summary>The container object (openai-node <c>ContainerRetrieveResponse</c>).</summary>
    public void Write(Utf8JsonWriter w, Sandbox sandbox)
    {
        var minutes = MinutesOf(sandbox);
        var now = time.GetUtcNow();
        // Expiry is last activity plus the idle minutes, so activity is expiry minus them (never in the future: a run
        // in progress has pushed expiry past that).
        var active = sandbox.ExpiresAt - TimeSpan.FromMinutes(minutes);
        if (active > now) active = now;
        if (active < sandbox.CreatedAt) active = sandbox.CreatedAt;
        w.WriteStartObject();
        w.WriteString("id", IdOf(sandbox));
        w.WriteString("object", "container");
        w.WriteNumber("created_at", sandbox.CreatedAt.ToUnixTimeSeconds());
        w.WriteString("status", "running");
        w.WriteStartObject("expires_after");
        w.WriteString("anchor", "last_active_at");
        w.WriteNumber("minutes", minutes);
        w.WriteEndObject();
        w.WriteNumber("last_active_at", active.ToUnixTimeSeconds());
        w.WriteString("name", NameOf(sandbox));
        if (sandbox.Spec.Metadata.TryGetValue(MemoryKey, out var memory)) w.WriteString("memory_limit", memory);
        w.WriteStartObject("network_policy");
        if (sandbox.Spec.Network.Mode == NetworkMode.None) w.WriteString("type", "disabled");
        else
        {
            w.WriteString("type", "allowlist");
            w.WriteStartArray("allowed_domains");
            foreach (var host in sandbox.Spec.Network.AllowHosts) w.WriteStringValue(host);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
