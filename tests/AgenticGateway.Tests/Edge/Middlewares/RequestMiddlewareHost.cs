using System.Collections.Concurrent;
using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;
using AgenticGateway.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// Builds a middleware from a Traefik dynamic configuration in YAML, as Traefik's documentation writes it
/// (<c>http.middlewares.NAME.TYPE</c>), through the edge's registry of middleware types.
/// </summary>
internal static class TraefikMiddlewares
{
    private static readonly Lazy<GatewayOptions> Options = new(() =>
        ConfigLoader.Load("models: [{name: m, provider: mock}]", "test.yaml", new Dictionary<string, string>()).Options!);

    /// <summary>The middleware named <paramref name="name"/> (the only one when null); fails the test on any error.</summary>
    public static EdgeMiddleware Build(string yaml, string? name = null, IServiceProvider? services = null)
    {
        var errors = new List<string>();
        var built = TryBuild(yaml, errors, name, services);
        Assert.True(errors.Count == 0, "errors: " + string.Join("; ", errors));
        Assert.NotNull(built);
        return built;
    }

    /// <summary>The errors building the middleware reports (the test asserts what they say).</summary>
    public static List<string> Errors(string yaml)
    {
        var errors = new List<string>();
        TryBuild(yaml, errors, null, null);
        return errors;
    }

    public static EdgeMiddleware? TryBuild(string yaml, List<string> errors, string? name, IServiceProvider? services)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = ToNode((YamlMappingNode)stream.Documents[0].RootNode, "");
        var middlewares = root["http"]?["middlewares"] ?? throw new InvalidOperationException("no http.middlewares in the YAML");
        var (middlewareName, middleware) = name is null ? Assert.Single(middlewares.Entries) : middlewares.Entries.Single(e => e.Key == name);
        var (typeName, options) = Assert.Single(middleware.Entries);
        Assert.True(EdgeMiddlewareTypes.All.TryGetValue(typeName, out var type), $"no middleware type {typeName}");
        var context = new EdgeBuildContext
        {
            Services = services ?? new ServiceCollection().BuildServiceProvider(),
            Router = "test-router",
            Name = middlewareName,
            Service = _ => null,
            Middleware = _ => null,
            Time = TimeProvider.System,
            Loggers = NullLoggerFactory.Instance,
            Options = Options.Value,
        };
        return type.Build(new EdgeOptions(options, errors), context);
    }

    private static EdgeNode ToNode(YamlNode node, string path) => node switch
    {
        YamlMappingNode map => EdgeNode.OfMap(path, map.Children.Select(c =>
        {
            var key = ((YamlScalarNode)c.Key).Value!;
            return new KeyValuePair<string, EdgeNode>(key, ToNode(c.Value, EdgeNode.ChildPath(path, key)));
        })),
        YamlSequenceNode list => EdgeNode.OfList(path, list.Children.Select((c, i) => ToNode(c, $"{path}[{i}]"))),
        YamlScalarNode { Value: "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain } => EdgeNode.OfScalar(path, null),
        YamlScalarNode scalar => EdgeNode.OfScalar(path, scalar.Value),
        _ => throw new InvalidOperationException($"unexpected YAML node at {path}"),
    };
}

/// <summary>What the service behind the middleware received.</summary>
internal sealed record SeenRequest(string Method, string Path, string RawPath, string Query, IHeaderDictionary Headers, string? StrippedPrefix, string Body);

/// <summary>
/// A real Kestrel server on a free loopback port that runs one built middleware in front of a small service, as the
/// edge's runtime runs a router's chain: the request carries the edge's request feature, the service records what it got
/// and answers 200 "backend" (or what the test's service writes).
/// </summary>
internal sealed class RequestMiddlewareHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RequestMiddlewareHost(WebApplication app, string url)
    {
        _app = app;
        Url = url;
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = new Uri(url),
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public string Url { get; }
    public HttpClient Client { get; }
    public ConcurrentQueue<SeenRequest> Seen { get; } = new();
    public SeenRequest Last => Seen.Last();

    public static async Task<RequestMiddlewareHost> StartAsync(EdgeMiddleware middleware, RequestDelegate? service = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        RequestMiddlewareHost? host = null;
        var backend = service ?? (async http =>
        {
            http.Response.ContentType = "text/plain";
            await http.Response.WriteAsync("backend");
        });
        var chain = middleware(async http =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            host!.Seen.Enqueue(new SeenRequest(http.Request.Method, http.Request.Path.Value ?? "", http.Request.Path.ToUriComponent(), http.Request.QueryString.Value ?? "",
                new HeaderDictionary(http.Request.Headers.ToDictionary(h => h.Key, h => h.Value)), http.Edge()?.StrippedPrefix, body));
            await backend(http);
        });
        app.Run(http =>
        {
            http.Features.Set(new EdgeRequest { EntryPoint = "web", Router = "test-router", ClientIp = http.Connection.RemoteIpAddress });
            return chain(http);
        });
        await app.StartAsync();
        host = new RequestMiddlewareHost(app, GatewayApp.BoundAddresses(app)[0]);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
