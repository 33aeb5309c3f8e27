using AgenticGateway.Configuration;
using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Mcp.Upstreams;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>Limits of an OpenAPI upstream. A response over <see cref="MaxResponseBytes"/> is refused, never cut.</summary>
internal sealed record OpenApiLimits
{
    public long MaxResponseBytes { get; init; } = 4 * 1024 * 1024;
    public long MaxSpecBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>How long reading and parsing the spec may take (a URL spec's fetch included).</summary>
    public TimeSpan SpecTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>One call's limit when the server sets none.</summary>
    public TimeSpan DefaultCallTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// An OpenAPI document served as MCP tools (LiteLLM's <c>spec_path</c> servers): each operation is a tool, and calling
/// it sends that HTTP request to the base URL with the server's own headers and the caller's forwarded ones. The spec is
/// read at the first listing (a spec that cannot be read fails that listing, and the next one tries again) and
/// kept: it changes only when the config reloads and builds a new upstream, so ListChanged never fires. No resources
/// or prompts.
/// </summary>
internal sealed partial class OpenApiUpstream : IMcpUpstream
{
    private readonly McpServerConfig _config;
    private readonly OpenApiLimits _limits;
    private readonly HttpClient _http;
    private readonly TimeSpan _callTimeout;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile Loaded? _loaded;

    private sealed record Loaded(Uri BaseUrl, ImmutableArray<Tool> Tools, ImmutableDictionary<string, OpenApiOperation> Operations);

    public OpenApiUpstream(McpServerConfig config, HttpMessageHandler handler, ILogger<OpenApiUpstream> logger, OpenApiLimits? limits = null)
    {
        if (config.Transport != McpTransport.OpenApi) throw new ArgumentException($"server '{config.Name}' is not an OpenAPI server", nameof(config));
        if (string.IsNullOrWhiteSpace(config.SpecPath)) throw new ArgumentException($"OpenAPI server '{config.Name}' has no spec_path", nameof(config));
        _config = config;
        _limits = limits ?? new OpenApiLimits();
        _logger = logger;
        // Calls and the spec's load each have their own deadline, through a token.
        _callTimeout = config.CallTimeout ?? _limits.DefaultCallTimeout;
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The upstream with its own connection pool: bounded, no cookies shared between callers, no redirects followed with credentials.</summary>
    public static OpenApiUpstream Create(McpServerConfig config, ILoggerFactory loggers, OpenApiLimits? limits = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = 256,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
        };
        return new OpenApiUpstream(config, handler, loggers.CreateLogger<OpenApiUpstream>(), limits);
    }

    public string Name => _config.Name;

    // Tools change only with the spec, and the spec only with a reload (a new upstream): there is nothing to raise.
    public event Action<IMcpUpstream>? ListChanged { add { } remove { } }

    /// <summary>Fresh <see cref="Tool"/> objects each time: they are mutable, and what a caller does to one must not change the next listing.</summary>
    public async ValueTask<IReadOnlyList<Tool>> ListToolsAsync(CancellationToken ct) => [.. (await LoadAsync(ct)).Tools.Select(Copy)];

    private static Tool Copy(Tool tool) => new()
    {
        Name = tool.Name,
        Description = tool.Description,
        InputSchema = tool.InputSchema,
        Annotations = tool.Annotations is { } a ? new ToolAnnotations { ReadOnlyHint = a.ReadOnlyHint } : null,
    };

    public async ValueTask<CallToolResult> CallToolAsync(string tool, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var loaded = await LoadAsync(ct);
        if (!loaded.Operations.TryGetValue(tool, out var operation))
            throw new McpProtocolException($"Unknown tool: '{tool}'", McpErrorCode.InvalidParams);
        using var request = OpenApiRequest.Build(operation, loaded.BaseUrl, arguments, out var error);
        if (request is null) return Error(error!);

        // The caller's forwarded headers, then the server's own, which win (LiteLLM's precedence: a caller cannot
        // replace the credentials the operator configured).
        foreach (var (name, value) in context.Headers) Set(request, name, value);
        foreach (var (name, secret) in _config.Headers)
            if (secret.IsSet) Set(request, name, secret.Value!);
        if (!request.Headers.Accept.Any()) request.Headers.Accept.ParseAdd("application/json, */*;q=0.5");

        // One deadline for the request and its whole body: HttpClient's own timeout stops at the headers, and a body
        // that trickles in would otherwise hold the call open.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_callTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var body = await SpecLoader.ReadLimitedAsync(response.Content, _limits.MaxResponseBytes, deadline.Token);
            var status = (int)response.StatusCode;
            if (body is null)
            {
                LogResponseTooLarge(_config.Name, operation.Describe(), _limits.MaxResponseBytes);
                return Error($"{operation.Describe()} answered HTTP {status} with a body over the {_limits.MaxResponseBytes}-byte limit; it was not read.");
            }
            var text = Decode(body, response.Content.Headers.ContentType?.CharSet);
            if (!response.IsSuccessStatusCode)
                return Error($"HTTP {status} {response.ReasonPhrase}" + (text.Length > 0 ? $": {text}" : ""));
            return new CallToolResult { Content = [new TextContentBlock { Text = text.Length > 0 ? text : $"HTTP {status} {response.ReasonPhrase} (no body)" }] };
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"OpenAPI server '{_config.Name}': {operation.Describe()} did not answer within {_callTimeout.TotalSeconds:0.#} s", e);
        }
    }

    private static void Set(HttpRequestMessage request, string name, string value)
    {
        request.Headers.Remove(name);
        request.Headers.TryAddWithoutValidation(name, value);
    }

    private static string Decode(byte[] body, string? charset)
    {
        var encoding = Encoding.UTF8;
        if (!string.IsNullOrEmpty(charset))
        {
            try { encoding = Encoding.GetEncoding(charset.Trim('"')); }
            catch (ArgumentException) { }
        }
        return encoding.GetString(body);
    }

    private static CallToolResult Error(string message) => new() { IsError = true, Content = [new TextContentBlock { Text = message }] };

    private async ValueTask<Loaded> LoadAsync(CancellationToken ct)
    {
        if (_loaded is { } loaded) return loaded;
        await _loading.WaitAsync(ct);
        try
        {
            return _loaded ??= await ReadSpecAsync(ct);
        }
        finally
        {
            _loading.Release();
        }
    }

    private async Task<Loaded> ReadSpecAsync(CancellationToken ct)
    {
        var spec = _config.SpecPath!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_limits.SpecTimeout);
        try
        {
            var (document, location) = await SpecLoader.LoadAsync(spec, _http, _limits.MaxSpecBytes, timeout.Token);
            var baseUrl = BaseUrl(document, location);
            var skipped = new List<string>();
            var operations = OpenApiToolBuilder.Build(document, skipped);
            foreach (var why in skipped) LogOperationSkipped(_config.Name, why);
            LogSpecLoaded(_config.Name, operations.Length, baseUrl);
            return new Loaded(baseUrl, [.. operations.Select(o => o.Tool)], operations.ToImmutableDictionary(o => o.Tool.Name, StringComparer.Ordinal));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"OpenAPI server '{_config.Name}': the spec {spec} could not be read within {_limits.SpecTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is FormatException or IOException or HttpRequestException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"OpenAPI server '{_config.Name}': the spec {spec} cannot be used: {e.Message}", e);
        }
    }

    /// <summary>
    /// The configured url, else the spec's first server (its variables at their defaults) resolved against the spec's
    /// own URL, as OpenAPI says a relative server URL is meant; a spec without servers means "/".
    /// </summary>
    private Uri BaseUrl(SpecDocument document, Uri? specLocation)
    {
        if (_config.Url is { } configured) return configured;
        var server = document.Root["servers"] is JsonArray { Count: > 0 } servers && servers[0] is JsonObject first ? first : null;
        var url = server?["url"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "/";
        if (server?["variables"] is JsonObject variables)
        {
            foreach (var (name, variable) in variables)
                if (variable?["default"] is JsonValue d && d.TryGetValue<string>(out var value)) url = url.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }
        Uri? resolved = null;
        if (Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https") resolved = absolute;
        else if (specLocation is not null && Uri.TryCreate(specLocation, url, out var relative)) resolved = relative;
        return resolved is { Scheme: "http" or "https" }
            ? resolved
            : throw new FormatException($"its servers[0].url '{url}' is not an http(s) URL the spec's location can resolve; set the server's url");
    }

    public ValueTask<IReadOnlyList<Resource>> ListResourcesAsync(CancellationToken ct) => ValueTask.FromResult<IReadOnlyList<Resource>>([]);

    public ValueTask<ReadResourceResult> ReadResourceAsync(string uri, McpCallContext context, CancellationToken ct) =>
        throw new McpProtocolException($"Resource not found: '{uri}' (OpenAPI server '{_config.Name}' has no resources)", McpErrorCode.InvalidParams);

    public ValueTask<IReadOnlyList<Prompt>> ListPromptsAsync(CancellationToken ct) => ValueTask.FromResult<IReadOnlyList<Prompt>>([]);

    public ValueTask<GetPromptResult> GetPromptAsync(string name, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct) =>
        throw new McpProtocolException($"Unknown prompt: '{name}' (OpenAPI server '{_config.Name}' has no prompts)", McpErrorCode.InvalidParams);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        _loading.Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "OpenAPI server {Server}: {Count} operations served as tools, calling {BaseUrl}")]
    private partial void LogSpecLoaded(string server, int count, Uri baseUrl);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "OpenAPI server {Server}: operation {Operation} left out")]
    private partial void LogOperationSkipped(string server, string operation);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "OpenAPI server {Server}: {Operation} answered more than {Limit} bytes; refused")]
    private partial void LogResponseTooLarge(string server, string operation, long limit);
}
