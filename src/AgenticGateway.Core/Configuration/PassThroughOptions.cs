using System.Collections.Immutable;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// One of LiteLLM's <c>general_settings.pass_through_endpoints</c> (ours: a top-level <c>pass_through_endpoints:</c>):
/// requests to <see cref="Path"/> (and below it with <see cref="IncludeSubpath"/>) go to <see cref="Target"/> as they
/// came, with the configured <see cref="Headers"/> added (the upstream's credential lives there), answered as the
/// target answers. Fields and defaults are LiteLLM's PassThroughGenericEndpoint.
/// </summary>
internal sealed record PassThroughEndpoint
{
    public string? Id { get; init; }
    /// <summary>The gateway's route, starting with '/', without a trailing '/'.</summary>
    public required string Path { get; init; }
    public required Uri Target { get; init; }
    /// <summary>Headers sent upstream (values are secrets: they carry the target's credentials).</summary>
    public ImmutableArray<KeyValuePair<string, Secret>> Headers { get; init; } = [];
    /// <summary>Also send the client's own headers (never its gateway credential).</summary>
    public bool ForwardHeaders { get; init; }
    /// <summary>Requests below <see cref="Path"/> go to the same place below <see cref="Target"/>.</summary>
    public bool IncludeSubpath { get; init; }
    /// <summary>USD charged per request, to the caller's spend and budgets.</summary>
    public decimal CostPerRequest { get; init; }
    /// <summary>LiteLLM's <c>auth: true</c>: callers need a gateway key. LiteLLM's default is false (open).</summary>
    public bool Auth { get; init; }
    /// <summary>The methods served; empty means all (LiteLLM: GET, POST, PUT, DELETE, PATCH).</summary>
    public ImmutableArray<string> Methods { get; init; } = [];
    /// <summary>Upstream timeout (LiteLLM's <c>timeout</c>, seconds; default 600).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(600);
}

internal static class PassThroughReader
{
    private static readonly string[] KnownMethods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    /// <summary>
    /// Reads a list of endpoints. Bad entries are errors in both schemas: a route that silently does not exist (or
    /// forwards somewhere unintended) is worse than a refused start.
    /// </summary>
    /// <param name="strict">Our schema: unknown keys are errors; LiteLLM's: warnings.</param>
    public static ImmutableArray<PassThroughEndpoint> Read(ConfigMap parent, string key, bool strict)
    {
        var builder = ImmutableArray.CreateBuilder<PassThroughEndpoint>();
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (node, path) in parent.Sequence(key))
        {
            var m = parent.AsMap(node, path);
            if (m is null) continue;
            var route = m.String("path");
            var target = m.String("target");
            if (string.IsNullOrWhiteSpace(route) || route[0] != '/')
            {
                m.Context.Issues.Error(m.Child("path"), "a path starting with '/' is required (the route on the gateway, such as /bria)");
                route = null;
            }
            Uri? targetUri = null;
            if (string.IsNullOrWhiteSpace(target))
            {
                // An unset variable (target: os.environ/AZURE_API_BASE) is warned about where it is read: the route is left out.
                if (m.Peek("target") is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { } raw } && (raw.StartsWith("os.environ/", StringComparison.Ordinal) || raw.Contains("${", StringComparison.Ordinal)))
                    m.Context.Issues.Warning(m.Child("target"), $"{route} is not served: its target '{raw}' is empty");
                else m.Context.Issues.Error(m.Child("target"), "a target URL is required (where requests to the path go)");
            }
            else if (!Uri.TryCreate(target, UriKind.Absolute, out targetUri) || targetUri.Scheme is not ("http" or "https"))
            {
                // LiteLLM also takes a Python adapter's dotted name here; the gateway runs no Python.
                m.Context.Issues.Error(m.Child("target"), $"'{target}' is not an http(s) URL (custom adapters named by a Python path are not supported)");
                targetUri = null;
            }
            var headers = ImmutableArray.CreateBuilder<KeyValuePair<string, Secret>>();
            if (m.Map("headers") is { } h)
            {
                foreach (var name in h.Keys.ToList())
                {
                    h.MarkRead(name);
                    if (h.RawNode(name) is not YamlDotNet.RepresentationModel.YamlScalarNode { Value: { } raw }) continue;
                    headers.Add(new(name, new Secret(HeaderValue(raw, h.Child(name), m.Context))));
                }
            }
            var methods = m.StringList("methods").Select(x => x.ToUpperInvariant()).ToImmutableArray();
            foreach (var method in methods.Where(x => !KnownMethods.Contains(x)))
                m.Context.Issues.Error(m.Child("methods"), $"'{method}' is not an HTTP method the gateway forwards ({string.Join(", ", KnownMethods)})");
            var cost = m.Decimal("cost_per_request") ?? 0m;
            var timeout = m.Double("timeout", 0.001) is { } seconds ? TimeSpan.FromSeconds(Math.Min(seconds, 86_400)) : TimeSpan.FromSeconds(600);
            if (m.Has("guardrails")) m.Context.Issues.Error(m.Child("guardrails"), "guardrails on pass-through endpoints are not supported");
            var endpoint = new PassThroughEndpoint
            {
                Id = m.String("id"),
                Path = route?.TrimEnd('/') is { Length: > 0 } trimmed ? trimmed : "/",
                Target = targetUri ?? new Uri("http://invalid.invalid"),
                Headers = headers.ToImmutable(),
                ForwardHeaders = m.Bool("forward_headers") ?? false,
                IncludeSubpath = m.Bool("include_subpath") ?? false,
                CostPerRequest = cost,
                Auth = m.Bool("auth") ?? false,
                Methods = methods,
                Timeout = timeout,
            };
            if (route is not null)
            {
                foreach (var method in methods.IsEmpty ? [""] : methods.AsEnumerable())
                    if (!paths.TryAdd(endpoint.Path + " " + method, path))
                        m.Context.Issues.Error(m.Child("path"), $"{endpoint.Path} is also configured at {paths[endpoint.Path + " " + method]}");
            }
            if (strict) m.ReportUnknownKeys(strict: true);
            else LiteLlmFeatures.ReportUnknownKeys(m, "pass_through_endpoints[]");
            if (route is not null && targetUri is not null) builder.Add(endpoint);
        }
        return builder.ToImmutable();
    }

    /// <summary>
    /// A header's value with LiteLLM's environment references: the whole value (<c>os.environ/KEY</c>), or its end after
    /// a scheme (<c>bearer os.environ/COHERE_API_KEY</c>, LiteLLM's own example), and <c>${KEY}</c> anywhere.
    /// </summary>
    private static string HeaderValue(string raw, string path, ConfigContext context)
    {
        var at = raw.IndexOf("os.environ/", StringComparison.Ordinal);
        if (at <= 0) return context.Env.Expand(raw, path, context.Issues);
        return raw[..at] + context.Env.Expand(raw[at..], path, context.Issues);
    }
}
