using System.Text;
using AgenticGateway.Yaml;

namespace AgenticGateway.Sandboxes.Hosts;

/// <summary>Reads <c>sandboxes.hosts:</c>, reporting every bad entry with its path.</summary>
internal static class SandboxHostsConfigReader
{
    public const int MinSecretLength = 32;

    public static SandboxHostsOptions? Read(ConfigMap h)
    {
        var errors = h.Context.Issues.Errors.Count;
        var id = h.String("id") ?? Environment.MachineName;
        if (id.Length is 0 or > 253 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            h.Context.Issues.Error(h.Child("id"), $"'{id}' is not a host id: 1 to 253 letters, digits, '-', '_' or '.'");

        Uri? url = null;
        if (h.String("advertise_url") is not { Length: > 0 } text)
            h.Context.Issues.Error(h.Child("advertise_url"), "is required: the URL the other replicas reach this host's API at, such as http://10.0.0.5:4000");
        else if (!Uri.TryCreate(text, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https") || url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0)
            h.Context.Issues.Error(h.Child("advertise_url"), $"'{text}' is not an http:// or https:// URL without credentials, query or fragment");

        var secret = h.AuthSecret("secret");
        if (!h.Has("secret"))
            h.Context.Issues.Error(h.Child("secret"), $"is required: a key of at least {MinSecretLength} characters that every host shares (forwarded calls are signed with it); put it in an environment variable: secret: ${{AGW_HOSTS_SECRET}}");
        else if (secret is not null && secret.Length < MinSecretLength)
            h.Context.Issues.Error(h.Child("secret"), $"is {secret.Length} characters; at least {MinSecretLength} are needed");

        var options = new SandboxHostsOptions { Id = id, AdvertiseUrl = url ?? new Uri("http://invalid"), Secret = Encoding.UTF8.GetBytes(secret ?? "") };
        if (h.Duration("heartbeat", positive: true) is { } beat) options = options with { Heartbeat = beat };
        if (h.Duration("ttl", positive: true) is { } ttl) options = options with { Ttl = ttl };
        if (h.Int("max_sandboxes", 0, 1_000_000) is { } max) options = options with { MaxSandboxes = max };
        if (h.Duration("connect_timeout", positive: true, max: TimeSpan.FromMinutes(1)) is { } connect) options = options with { ConnectTimeout = connect };
        h.ReportUnknownKeys(strict: true);
        // Two missed renewals are not yet a dead host: a GC pause or a slow Redis must not drop live sandboxes.
        if (options.Ttl < options.Heartbeat * 2)
            h.Context.Issues.Error(h.Child("ttl"), $"must be at least twice heartbeat ({options.Heartbeat.TotalSeconds:0.###} s), so one late renewal does not forget a live host");
        return h.Context.Issues.Errors.Count > errors ? null : options;
    }
}
