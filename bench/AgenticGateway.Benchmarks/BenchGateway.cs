using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// The gateway's services as the host composes them (built, never started): benchmarks take the hot-path pieces from
/// here, so they measure what runs in production, wired as it is, in a data directory of their own.
/// </summary>
internal sealed class BenchGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _data;

    public BenchGateway(string models)
    {
        _data = Directory.CreateTempSubdirectory("agw-bench-").FullName;
        var yaml = $"logging: {{level: warning}}\nsandboxes: {{enabled: false}}\nmodels:\n{models}";
        var loaded = ConfigLoader.Load(yaml, "bench.yaml", new Dictionary<string, string>());
        if (loaded.Options is not { } options) throw new InvalidOperationException(string.Join("; ", loaded.Errors));
        options = options with { Storage = new StorageOptions { DataDirectory = _data, DatabaseUrl = default, RedisUrl = default } };
        _app = GatewayApp.Build(new GatewayStartOptions(options, null, "http://127.0.0.1:0", []));
    }

    public IServiceProvider Services => _app.Services;

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>
    /// What the payload step makes of a chat request body: the body (pooled), its parse, its model's group and what it
    /// reserves. The caller disposes <see cref="LlmRequest.Body"/>.
    /// </summary>
    public async Task<LlmRequest> LlmRequestAsync(byte[] json, Reservation reservation)
    {
        var runtime = Get<RuntimeHolder>().Current;
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(json);
        context.Request.ContentLength = json.Length;
        var (body, error) = await RequestBody.ReadAsync(context.Request, 1 << 20, CancellationToken.None);
        if (body is null) throw new InvalidOperationException(error!.Message);
        if (RequestReader.TryParse(body.Span, LlmOperation.ChatCompletions, out var parsed) is { } invalid) throw new InvalidOperationException(invalid.Message);
        if (!runtime.Catalog.TryResolve(parsed.Model, out var group)) throw new InvalidOperationException($"no group {parsed.Model}");
        return new LlmRequest(runtime, LlmOperation.ChatCompletions, body, parsed, group, Pricing.TokenEstimator.EstimatePromptTokens(body.Span), reservation);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }
}
