using System.Globalization;
using System.Text.Json;
using AgenticGateway.Edge.Observability;
using AgenticGateway.Edge.Runtime;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;

namespace AgenticGateway.Edge.Api;

/// <summary>
/// Traefik's API (pkg/api) over the edge's current snapshot: <c>/api/overview</c>, <c>/api/entrypoints</c>,
/// <c>/api/http/{routers,services,middlewares}[/{name}]</c>, <c>/api/tcp/...</c>, <c>/api/udp/...</c>,
/// <c>/api/rawdata</c>, <c>/api/version</c>, with Traefik's field names, its search/status/serviceName/middlewareName
/// filters, sortBy/direction, page/per_page and the X-Next-Page header. They reveal the topology, so they take the
/// admin's credentials (the master key), also when a router reaches them as <c>api@internal</c>. Errors are Traefik's:
/// <c>{"message": "..."}</c> with 400 or 404.
/// </summary>
internal static class EdgeApi
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var holder = services.GetRequiredService<EdgeHolder>();
        var runtimes = services.GetRequiredService<RuntimeHolder>();
        var telemetry = services.GetRequiredService<EdgeTelemetry>();
        var started = services.GetRequiredService<TimeProvider>().GetUtcNow();
        EdgeStaticConfig Statics() => runtimes.Current.Options.Edge;
        EdgeView View() => EdgeView.Of(holder.Current, Statics());

        var api = routes.MapGroup("/api").Gateway(GatewayRoute.Admin);
        api.MapGet("/overview", (HttpContext c) => WriteAsync(c, w => EdgeApiJson.Overview(w, View(), Statics(), telemetry.AccessLogEnabled)))
            .WithSummary("Edge (Traefik API): counts of routers, services and middlewares by status, features, providers");
        api.MapGet("/rawdata", (HttpContext c) => WriteAsync(c, w => EdgeApiJson.RawData(w, View())))
            .WithSummary("Edge (Traefik API): every router, service and middleware by name");
        api.MapGet("/version", (HttpContext c) => WriteAsync(c, w => EdgeApiJson.Version(w, started)))
            .WithSummary("Edge (Traefik API): version and start date");
        api.MapGet("/entrypoints", (HttpContext c) =>
        {
            var eps = EdgeApiJson.EntryPointNames(Statics());
            return ListAsync(c, eps, static (w, name, s) => EdgeApiJson.EntryPoint(w, name, s), Statics());
        }).WithSummary("Edge (Traefik API): entry points");
        api.MapGet("/entrypoints/{name}", (HttpContext c, string name) =>
        {
            var id = Unescape(name);
            return EdgeApiJson.EntryPointNames(Statics()).Contains(id, StringComparer.Ordinal)
                ? WriteAsync(c, w => EdgeApiJson.EntryPoint(w, id, Statics()))
                : ErrorAsync(c, 404, $"entry point not found: {id}");
        }).WithSummary("Edge (Traefik API): one entry point");

        MapKind(api, "/http/routers", "router", v => v.Routers, EdgeApiJson.Router);
        MapKind(api, "/http/services", "service", v => v.Services, EdgeApiJson.Service);
        MapKind(api, "/http/middlewares", "middleware", v => v.Middlewares, EdgeApiJson.Middleware);
        // TCP and UDP: listed from the TCP/UDP runtime once it reports status; until then nothing runs there to list.
        MapKind(api, "/tcp/routers", "router", _ => [], EdgeApiJson.Router);
        MapKind(api, "/tcp/services", "service", _ => [], EdgeApiJson.Service);
        MapKind(api, "/tcp/middlewares", "middleware", _ => [], EdgeApiJson.Middleware);
        MapKind(api, "/udp/routers", "router", _ => [], EdgeApiJson.Router);
        MapKind(api, "/udp/services", "service", _ => [], EdgeApiJson.Service);

        void MapKind(RouteGroupBuilder group, string path, string kind, Func<EdgeView, System.Collections.Immutable.ImmutableArray<EdgeApiItem>> of,
            Action<Utf8JsonWriter, EdgeApiItem, bool> write)
        {
            group.MapGet(path, (HttpContext c) =>
            {
                var query = c.Request.Query;
                var items = EdgeApiQuery.Filter(of(View()), kind, query);
                EdgeApiQuery.Sort(items, kind, query);
                return ListAsync(c, items, static (w, item, write) => write(w, item, true), write);
            }).WithSummary($"Edge (Traefik API): {path.TrimStart('/').Replace('/', ' ')}");
            group.MapGet(path + "/{name}", (HttpContext c, string name) =>
            {
                var id = Unescape(name);
                var item = of(View()).FirstOrDefault(i => i.Name == id);
                return item is null ? ErrorAsync(c, 404, $"{kind} not found: {id}") : WriteAsync(c, w => write(w, item, true));
            }).WithSummary($"Edge (Traefik API): one {kind}");
        }
    }

    /// <summary>Names carry '@' and may carry '/', sent encoded (%2F); ASP.NET leaves %2F encoded in a route value.</summary>
    private static string Unescape(string name) => name.Contains('%') ? Uri.UnescapeDataString(name) : name;

    /// <summary>One page of a list, as Traefik pages them (page, per_page; X-Next-Page is 1 on the last page).</summary>
    private static Task ListAsync<T, TState>(HttpContext context, IReadOnlyList<T> items, Action<Utf8JsonWriter, T, TState> write, TState state)
    {
        if (!EdgeApiQuery.TryPage(context.Request.Query, items.Count, out var page, out var error)) return ErrorAsync(context, 400, error);
        context.Response.Headers["X-Next-Page"] = page.Next.ToString(CultureInfo.InvariantCulture);
        return WriteAsync(context, w =>
        {
            w.WriteStartArray();
            for (var i = page.Start; i < page.End; i++) write(w, items[i], state);
            w.WriteEndArray();
        });
    }

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        await using (var w = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { SkipValidation = false }))
            write(w);
        // Go's json.Encoder ends each value with a newline.
        context.Response.BodyWriter.GetSpan(1)[0] = (byte)'\n';
        context.Response.BodyWriter.Advance(1);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>Traefik's API error: <c>{"message": ...}</c> written by Go's http.Error (text/plain, nosniff, a newline).</summary>
    private static Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        var body = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(body))
        {
            w.WriteStartObject();
            w.WriteString("message", message);
            w.WriteEndObject();
        }
        return context.Response.WriteAsync(System.Text.Encoding.UTF8.GetString(body.WrittenSpan) + "\n");
    }
}

/// <summary>Traefik's list parameters: search, status, serviceName, middlewareName; sortBy, direction; page, per_page.</summary>
internal static class EdgeApiQuery
{
    public readonly record struct Page(int Start, int End, int Next);

    public static List<EdgeApiItem> Filter(IEnumerable<EdgeApiItem> items, string kind, IQueryCollection query)
    {
        var search = query["search"].ToString();
        var status = query["status"].ToString();
        var serviceName = query["serviceName"].ToString();
        var middlewareName = query["middlewareName"].ToString();
        var result = new List<EdgeApiItem>();
        foreach (var item in items)
        {
            if (status.Length > 0 && !item.Status.Equals(status, StringComparison.OrdinalIgnoreCase)) continue;
            if (search.Length > 0 && !Contains(item.Name, search) && !(kind == "router" && Contains(item.Rule, search))) continue;
            if (kind == "router" && serviceName.Length > 0 && !SameService(serviceName, item.Service)) continue;
            if (kind == "router" && middlewareName.Length > 0 && !item.Middlewares.Contains(middlewareName, StringComparer.Ordinal)) continue;
            result.Add(item);
        }
        return result;
    }

    private static bool Contains(string value, string search) => value.Contains(search, StringComparison.OrdinalIgnoreCase);

    /// <summary>Traefik's filterService: a qualified reference compares whole, an unqualified one against the filter's name before '@'.</summary>
    private static bool SameService(string filter, string service) =>
        service.Contains('@') ? filter == service : (filter.IndexOf('@') is var at and >= 0 ? filter[..at] : filter) == service;

    public static void Sort(List<EdgeApiItem> items, string kind, IQueryCollection query)
    {
        var descending = query["direction"].ToString() is { Length: > 0 } d && d != "asc";
        Comparison<EdgeApiItem> byName = (a, b) => string.CompareOrdinal(a.Name, b.Name);
        Comparison<EdgeApiItem> compare = (query["sortBy"].ToString(), kind) switch
        {
            ("provider", _) => Then((a, b) => string.CompareOrdinal(a.Provider, b.Provider)),
            ("status", _) => Then((a, b) => string.CompareOrdinal(a.Status, b.Status)),
            ("priority", "router") => Then((a, b) => a.Priority.CompareTo(b.Priority)),
            ("rule", "router") => Then((a, b) => string.CompareOrdinal(a.Rule, b.Rule)),
            ("service", "router") => Then((a, b) => string.CompareOrdinal(a.Service, b.Service)),
            ("entryPoints", "router") => Then((a, b) => a.EntryPoints.Length.CompareTo(b.EntryPoints.Length)),
            ("type", "service" or "middleware") => Then((a, b) => string.CompareOrdinal(a.Type, b.Type)),
            ("servers", "service") => Then((a, b) => a.ServersCount.CompareTo(b.ServersCount)),
            _ => byName,
        };
        items.Sort(descending ? (a, b) => compare(b, a) : compare);

        // Traefik breaks ties by name, in the same direction.
        Comparison<EdgeApiItem> Then(Comparison<EdgeApiItem> first) => (a, b) => first(a, b) is var c and not 0 ? c : byName(a, b);
    }

    /// <summary>Traefik's pagination: per_page 100 and page 1 by default; a value that is not a positive integer, or a page past the end, is a 400.</summary>
    public static bool TryPage(IQueryCollection query, int count, out Page page, out string error)
    {
        page = default;
        if (!TryInt(query, "per_page", 100, out var perPage, out error) || !TryInt(query, "page", 1, out var number, out error)) return false;
        var start = (long)(number - 1) * perPage;
        if (start != 0 && start >= count)
        {
            error = $"invalid request: page: {number}, per_page: {perPage}";
            return false;
        }
        var end = (int)Math.Min(start + perPage, count);
        page = new Page((int)start, end, (long)number * perPage < count ? number + 1 : 1);
        return true;
    }

    private static bool TryInt(IQueryCollection query, string key, int fallback, out int value, out string error)
    {
        error = "";
        value = fallback;
        var raw = query[key].ToString();
        if (raw.Length == 0) return true;
        // Go's Atoi: a failed parse reports 0, a negative or zero value is reported as given.
        if (!int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)) parsed = 0;
        if (parsed <= 0)
        {
            error = $"invalid request: {key}: {parsed}";
            return false;
        }
        value = parsed;
        return true;
    }
}
