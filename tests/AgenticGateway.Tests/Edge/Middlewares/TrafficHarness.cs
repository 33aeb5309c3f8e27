using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// Builds a traffic middleware from Traefik's dynamic configuration as its documentation writes it (the YAML under
/// <c>http.middlewares.NAME</c>), and drives it on a DefaultHttpContext whose body is kept for the test.
/// </summary>
internal static class TrafficHarness
{
    private static readonly Lazy<GatewayOptions> Options = new(() =>
    {
        var result = ConfigLoader.Load("models: [{name: m, provider: mock}]\n", "test.yaml", new Dictionary<string, string>());
        return result.Options ?? throw new InvalidOperationException(string.Join("; ", result.Errors));
    });

    /// <summary>A YAML document as the edge's config node (what the cfg helper's reader yields).</summary>
    public static EdgeNode Node(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode, "");
    }

    private static EdgeNode Convert(YamlNode node, string path) => node switch
    {
        YamlMappingNode map => EdgeNode.OfMap(path, map.Children.Select(c =>
        {
            var key = ((YamlScalarNode)c.Key).Value!;
            return new KeyValuePair<string, EdgeNode>(key, Convert(c.Value, EdgeNode.ChildPath(path, key)));
        })),
        YamlSequenceNode list => EdgeNode.OfList(path, list.Children.Select((c, i) => Convert(c, $"{path}[{i}]"))),
        YamlScalarNode scalar => EdgeNode.OfScalar(path, scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is "~" or "null" or "" ? null : scalar.Value),
        _ => throw new InvalidOperationException("unexpected YAML node"),
    };

    public static EdgeBuildContext Context(TimeProvider? time = null, Func<string, RequestDelegate?>? services = null,
        Func<string, EdgeMiddleware?>? middlewares = null, string name = "test@file") => new()
    {
        Services = new ServiceCollection().BuildServiceProvider(),
        Router = "router@file",
        Name = name,
        Service = services ?? (_ => null),
        Middleware = middlewares ?? (_ => null),
        Time = time ?? TimeProvider.System,
        Loggers = NullLoggerFactory.Instance,
        Options = Options.Value,
    };

    /// <summary>Builds the only middleware of <c>http.middlewares</c> in <paramref name="yaml"/>; the errors the builder reported.</summary>
    public static (EdgeMiddleware? Middleware, List<string> Errors) TryBuild(string yaml, EdgeBuildContext? context = null)
    {
        var root = Node(yaml);
        var middleware = root["http"]!["middlewares"]!.Entries.Single().Value;
        var (type, options) = middleware.Entries.Single();
        var errors = new List<string>();
        var built = EdgeMiddlewareTypes.All[type].Build(new EdgeOptions(options, errors), context ?? Context());
        return (built, errors);
    }

    public static EdgeMiddleware Build(string yaml, EdgeBuildContext? context = null)
    {
        var (middleware, errors) = TryBuild(yaml, context);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        return middleware!;
    }

    public static DefaultHttpContext Request(string method = "GET", string path = "/", string host = "example.com", string? body = null,
        params (string Name, string Value)[] headers)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.Path = path;
        http.Request.Host = new HostString(host);
        http.Request.Scheme = "http";
        http.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("10.0.0.1");
        foreach (var (name, value) in headers) http.Request.Headers.Append(name, value);
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            http.Request.Body = new MemoryStream(bytes);
            http.Request.ContentLength = bytes.Length;
        }
        http.Response.Body = new MemoryStream();
        http.Features.Set(new EdgeRequest { EntryPoint = "web" });
        return http;
    }

    public static byte[] BodyBytes(HttpContext http)
    {
        var stream = (MemoryStream)http.Features.Get<IHttpResponseBodyFeature>()!.Stream;
        return stream.ToArray();
    }

    public static string Body(HttpContext http) => Encoding.UTF8.GetString(BodyBytes(http));

    /// <summary>A terminal handler that answers with a status and a text body.</summary>
    public static RequestDelegate Answer(int status, string body = "", string? contentType = "text/plain") => async http =>
    {
        http.Response.StatusCode = status;
        if (contentType is not null) http.Response.ContentType = contentType;
        if (body.Length > 0) await http.Response.WriteAsync(body);
    };
}
