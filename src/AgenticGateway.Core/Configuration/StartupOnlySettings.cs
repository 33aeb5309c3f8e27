using System.Collections;
using System.Reflection;

namespace AgenticGateway.Configuration;

/// <summary>
/// The settings a running gateway cannot change: where it listens and keeps state, its sandboxes (drivers, pools and
/// their processes), how it logs and traces, and the request-size limit Kestrel was started with. A reload that changes
/// one is still applied for everything else; these keep their start-up values (so the running configuration says what
/// is in effect) and are reported by name, never silently ignored. The edge's static configuration (entryPoints,
/// providers, certificatesResolvers, api, metrics) is start-up only, as in Traefik. Everything else (deployments,
/// aliases, routing, routers and middlewares, the edge's inline http/tcp/udp/tls, keys' auth, JWT, budgets, alerts,
/// LiteLLM headers, metrics auth) reloads.
/// </summary>
internal static class StartupOnlySettings
{
    /// <summary>The start-up-only settings that differ between the two, as their config file names.</summary>
    public static IReadOnlyList<string> Changed(GatewayOptions startup, GatewayOptions next)
    {
        var changed = new List<string>();
        if (next.Server.Urls != startup.Server.Urls) changed.Add("server.urls");
        if (next.Server.MetricsUrls != startup.Server.MetricsUrls) changed.Add("server.metrics_urls");
        if (next.Server.MaxRequestBodyBytes != startup.Server.MaxRequestBodyBytes) changed.Add("server.max_request_body_bytes");
        if (!SameValue(startup.Storage, next.Storage)) changed.Add("storage");
        if (!SameValue(startup.Sandboxes, next.Sandboxes)) changed.Add("sandboxes");
        if (!SameValue(startup.Logging, next.Logging)) changed.Add("logging");
        if (!SameValue(startup.Tracing, next.Tracing)) changed.Add("tracing");
        // The edge's static configuration is Traefik's, which is start-up only there too: listeners, providers, resolvers.
        if (!SameValue(startup.Edge.EntryPoints, next.Edge.EntryPoints)) changed.Add("entryPoints");
        if (!SameValue(startup.Edge.FileProvider, next.Edge.FileProvider)) changed.Add("providers");
        if (!SameValue(startup.Edge.CertificatesResolvers, next.Edge.CertificatesResolvers)) changed.Add("certificatesResolvers");
        if (startup.Edge.Api != next.Edge.Api || startup.Edge.Dashboard != next.Edge.Dashboard) changed.Add("api");
        if (!SameValue(startup.Edge.Prometheus, next.Edge.Prometheus)) changed.Add("metrics");
        return changed;
    }

    /// <summary><paramref name="next"/> with the start-up-only settings of <paramref name="running"/>: what a reload applies.</summary>
    public static GatewayOptions Keep(GatewayOptions next, GatewayOptions running) => next with
    {
        Server = next.Server with
        {
            Urls = running.Server.Urls,
            MetricsUrls = running.Server.MetricsUrls,
            MaxRequestBodyBytes = running.Server.MaxRequestBodyBytes,
        },
        Storage = running.Storage,
        Sandboxes = running.Sandboxes,
        Logging = running.Logging,
        Tracing = running.Tracing,
        // The inline dynamic configuration (http, tcp, udp, tls) reloads; the rest of the edge is start-up only.
        Edge = running.Edge with { Inline = next.Edge.Inline },
    };

    /// <summary>
    /// Equal by value all the way down: records property by property, collections element by element (the options
    /// hold immutable arrays and dictionaries, whose own Equals compares references). Runs once per reload.
    /// </summary>
    internal static bool SameValue(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null) return false;
        var type = a.GetType();
        if (type != b.GetType()) return false;
        // A default ImmutableArray has no elements to enumerate (it throws): equal only to another default one.
        if (type.GetProperty("IsDefault") is { } isDefault && isDefault.PropertyType == typeof(bool))
        {
            var (x, y) = ((bool)isDefault.GetValue(a)!, (bool)isDefault.GetValue(b)!);
            if (x || y) return x == y;
        }
        // The framework's values (numbers, strings, durations, addresses, networks) compare by value themselves.
        if (type.IsPrimitive || type.IsEnum || a is string or Secret || type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true && a is not IEnumerable) return a.Equals(b);
        if (a is IDictionary da && b is IDictionary db)
        {
            if (da.Count != db.Count) return false;
            foreach (DictionaryEntry e in da)
                if (!db.Contains(e.Key) || !SameValue(e.Value, db[e.Key])) return false;
            return true;
        }
        if (a is IEnumerable ea && b is IEnumerable eb && a is not string)
        {
            var ia = ea.GetEnumerator();
            var ib = eb.GetEnumerator();
            while (true)
            {
                var more = ia.MoveNext();
                if (more != ib.MoveNext()) return false;
                if (!more) return true;
                if (!SameValue(ia.Current, ib.Current)) return false;
            }
        }
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.Name == "EqualityContract") continue;
            if (!SameValue(p.GetValue(a), p.GetValue(b))) return false;
        }
        return true;
    }
}
