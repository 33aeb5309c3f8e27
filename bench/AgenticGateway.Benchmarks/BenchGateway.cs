using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
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

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }
}
