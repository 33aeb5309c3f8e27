using System.Net;
using System.Text.Json;
using AgenticGateway.Services.Models;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Models;

/// <summary>
/// Two replicas on one PostgreSQL with store_model_in_db: a model added, changed or deleted through one is served
/// (or no longer served) by the other within its poll interval, credentials included (both hold the master key).
/// </summary>
[Trait("Category", "integration")]
public sealed class ModelReplicaTests
{
    private const string Master = "sk-master-key-for-model-replicas";
    private const string Config = $"""
        model_list: []
        general_settings:
          master_key: {Master}
          store_model_in_db: true
        """;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private static async Task<bool> ServesAsync(GatewayServer g, string model)
    {
        using var r = await g.ChatAsync(Master, model);
        await r.Content.ReadAsByteArrayAsync();
        return r.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>Waits (bounded) until the replica serves the model or not; a few poll intervals are plenty.</summary>
    private static async Task<TimeSpan> UntilAsync(GatewayServer g, string model, bool served)
    {
        var started = DateTime.UtcNow;
        while (await ServesAsync(g, model) != served)
        {
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), $"the replica still {(served ? "does not serve" : "serves")} {model} after 10 s");
            await Task.Delay(50);
        }
        return DateTime.UtcNow - started;
    }

    [Fact]
    public async Task A_change_made_on_one_replica_is_served_by_the_other_within_its_poll_interval()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        var storage = await Backends.StorageAsync("postgres");
        void FastPoll(IServiceCollection s) => s.AddSingleton(new ModelSyncOptions(Poll));
        await using var a = await GatewayServer.StartAsync(Config, storage: storage, services: FastPoll);
        await using var b = await GatewayServer.StartAsync(Config, storage: storage, services: FastPoll);

        // The docs' /model/new body, with a literal key: B decrypts what A encrypted.
        var (status, added) = await a.AdminAsync("/model/new", $$"""
            {"model_name": "azure-gpt-turbo", "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_key": "sk-provider-secret-123456", "api_base": "{{upstream.ApiBase}}"} }
            """, Master);
        Assert.True(status == HttpStatusCode.OK, added.ToString());
        var id = added.GetProperty("model_id").GetString()!;
        Assert.True(await ServesAsync(a, "azure-gpt-turbo"), "the replica that added it serves it at once");
        await UntilAsync(b, "azure-gpt-turbo", served: true);
        var (_, info) = await b.AdminAsync("/model/info?litellm_model_id=" + id, null, Master);
        Assert.True(info.GetProperty("data")[0].GetProperty("model_info").GetProperty("db_model").GetBoolean());

        // A rename on B reaches A.
        var (renamed, _) = await b.AdminAsync($"/model/{id}/update", """{"model_name": "renamed"}""", Master, HttpMethod.Patch);
        Assert.Equal(HttpStatusCode.OK, renamed);
        await UntilAsync(a, "renamed", served: true);
        Assert.False(await ServesAsync(a, "azure-gpt-turbo"));

        // A delete on A reaches B.
        var (deleted, _) = await a.AdminAsync("/model/delete", $$"""{"id": "{{id}}"}""", Master);
        Assert.Equal(HttpStatusCode.OK, deleted);
        await UntilAsync(b, "renamed", served: false);
    }

    [Fact]
    public async Task A_replica_with_another_salt_key_leaves_out_the_model_it_cannot_decrypt()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        var storage = await Backends.StorageAsync("postgres");
        await using var a = await GatewayServer.StartAsync(Config, storage: storage);
        var (status, _) = await a.AdminAsync("/model/new", $$"""
            {"model_name": "secret-model", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-provider-secret-123456", "api_base": "{{upstream.ApiBase}}"} }
            """, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var (plain, _) = await a.AdminAsync("/model/new", $$"""
            {"model_name": "plain-model", "litellm_params": {"model": "openai/gpt-4o", "api_base": "{{upstream.ApiBase}}"} }
            """, Master);
        Assert.Equal(HttpStatusCode.OK, plain);

        // Another master key: the encrypted credential cannot be read, so that model is skipped (and logged), the rest served.
        await using var b = await GatewayServer.StartAsync(Config.Replace(Master, Master + "-other", StringComparison.Ordinal), storage: storage);
        using (var r = await b.ChatAsync(Master + "-other", "plain-model")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await b.ChatAsync(Master + "-other", "secret-model")) Assert.NotEqual(HttpStatusCode.OK, r.StatusCode);
        var (_, info) = await b.AdminAsync("/model/info", null, Master + "-other");
        Assert.Equal(["plain-model"], info.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("model_name").GetString()!).ToArray());
    }
}
