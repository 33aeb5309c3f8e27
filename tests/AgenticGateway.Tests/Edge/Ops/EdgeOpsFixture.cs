using System.Collections.Concurrent;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Ops;

/// <summary>
/// A gateway with the edge on (routers written inline, in Traefik's dynamic configuration format) in front of an
/// emulator, and every log line it writes, for the API, metrics and access-log tests.
/// </summary>
internal sealed class EdgeOpsServer : IAsyncDisposable
{
    public const string MasterKey = "sk-edge-ops-master";
    private readonly WebApplication _app;
    private readonly string _data;

    private EdgeOpsServer(WebApplication app, string url, string data, EmulatorServer upstream, CapturedLogs logs)
    {
        _app = app;
        _data = data;
        Url = url;
        Upstream = upstream;
        Logs = logs;
        Client = new HttpClient { BaseAddress = new Uri(url) };
    }

    public string Url { get; }
    public HttpClient Client { get; }
    public EmulatorServer Upstream { get; }
    public CapturedLogs Logs { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="dynamicYaml">Traefik's dynamic configuration; <c>{upstream}</c> stands for the emulator's URL.</param>
    public static async Task<EdgeOpsServer> StartAsync(string dynamicYaml, PrometheusConfig? prometheus = null)
    {
        var upstream = await EmulatorServer.StartAsync();
        var errors = new List<string>();
        var node = AgenticGateway.Edge.EdgeFiles.ParseYaml(dynamicYaml.Replace("{upstream}", upstream.Url), "dynamic.yaml", errors);
        Assert.True(node is not null && errors.Count == 0, string.Join("; ", errors));
        var dynamic = DynamicConfigReader.Read(node!, errors);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        var result = ConfigLoader.Load($"master_key: {MasterKey}\nmodels:\n  - name: m\n    provider: openai_compatible\n    model: m\n    api_base: {upstream.ApiBase}\n    api_key: sk-x\n",
            "test.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var data = Directory.CreateTempSubdirectory("agw-edge-ops-").FullName;
        var options = result.Options! with
        {
            Storage = new StorageOptions { DataDirectory = data, DatabaseUrl = default, RedisUrl = default },
            Edge = new EdgeStaticConfig { Inline = dynamic, Prometheus = prometheus ?? PrometheusConfig.Default },
        };
        options = options with { Sandboxes = options.Sandboxes with { Pools = System.Collections.Immutable.ImmutableDictionary<string, AgenticGateway.Sandboxes.PoolOptions>.Empty } };
        var logs = new CapturedLogs();
        var app = GatewayApp.Build(new GatewayStartOptions(options, null, "http://127.0.0.1:0", result.Warnings)
        {
            OverrideServices = s => s.AddSingleton<ILoggerProvider>(logs),
        });
        await app.StartAsync();
        return new EdgeOpsServer(app, GatewayApp.BoundAddresses(app)[0], data, upstream, logs);
    }

    public HttpRequestMessage Admin(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", MasterKey);
        return request;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        // The edge holder is both a singleton and a hosted service (one instance, disposed twice by the container); a
        // second dispose of its snapshot throws, which is the runtime's to fix, not what these tests check.
        try { await _app.DisposeAsync(); }
        catch (ObjectDisposedException) { }
        await Upstream.DisposeAsync();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Every formatted log line, with its category.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, string Message)> _lines = new();

    public IReadOnlyList<(string Category, string Message)> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose() { }

    private sealed class Logger(string category, CapturedLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue((category, formatter(state, exception)));
    }
}
