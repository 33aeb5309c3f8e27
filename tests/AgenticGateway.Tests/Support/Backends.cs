using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Support;

/// <summary>Starts a gateway on a named storage backend: "sqlite" (the embedded default) or "postgres" (a fresh database on the test PostgreSQL).</summary>
internal static class Backends
{
    public static async Task<Func<StorageOptions, StorageOptions>?> StorageAsync(string backend, string? redisEndpoint = null)
    {
        string? database = null;
        if (backend == "postgres") database = await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync();
        else Assert.Equal("sqlite", backend);
        if (database is null && redisEndpoint is null) return null;
        return s => s with
        {
            DatabaseUrl = database is null ? default : new Secret(database),
            RedisUrl = redisEndpoint is null ? default : new Secret(redisEndpoint),
        };
    }

    public static async Task<GatewayServer> StartGatewayAsync(string yaml, string backend, string? dataDirectory = null) =>
        await GatewayServer.StartAsync(yaml, dataDirectory: dataDirectory, storage: await StorageAsync(backend));
}
