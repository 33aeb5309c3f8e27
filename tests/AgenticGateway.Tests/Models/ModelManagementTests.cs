using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Models;

/// <summary>
/// LiteLLM's model management API with store_model_in_db, against a real gateway on its embedded SQLite: the request
/// bodies and the fields read back are those of LiteLLM's own tests (tests/test_models.py in BerriAI/litellm) and docs
/// (docs/proxy/model_management.md), and a model added through the API serves requests at once.
/// </summary>
[Trait("Category", "functional")]
public sealed class ModelManagementTests : IAsyncLifetime
{
    // LiteLLM's tests run against a proxy whose master key is sk-1234 and whose config serves gpt-4.
    private const string Master = "sk-1234";
    private const string Config = $"""
        model_list:
          - model_name: gpt-4
            litellm_params: {"{"}model: mock/gpt-4{"}"}
            model_info: {"{"}id: config-gpt-4{"}"}
        router_settings:
          model_group_alias: {"{"}gpt-4-alias: gpt-4{"}"}
        general_settings:
          master_key: {Master}
          store_model_in_db: true
        """;

    private readonly string _data = Directory.CreateTempSubdirectory("agw-models-").FullName;
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync();
        _gateway = await GatewayServer.StartAsync(Config, dataDirectory: _data);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    /// <summary>tests/test_models.py add_models(): its body, with api_base pointed at the emulator instead of OpenAI.</summary>
    private string AddModelsBody(string modelId, string modelName, string apiBase) => $$"""
        {"model_name": "{{modelName}}",
         "litellm_params": {"model": "openai/gpt-4.1-nano", "api_key": "os.environ/OPENAI_API_KEY", "api_base": "{{apiBase}}"},
         "model_info": {"id": "{{modelId}}"} }
        """;

    private Task<(HttpStatusCode Status, JsonElement Body)> Admin(string path, string? json, string key = Master, HttpMethod? method = null) =>
        _gateway.AdminAsync(path, json, key, method);

    private async Task<HttpStatusCode> ChatAsync(string key, string model)
    {
        using var r = await _gateway.ChatAsync(key, model);
        await r.Content.ReadAsByteArrayAsync();
        return r.StatusCode;
    }

    private async Task<JsonElement?> InfoEntryAsync(string id, string key = Master)
    {
        var (status, body) = await Admin("/model/info?litellm_model_id=" + id, null, key);
        Assert.Equal(HttpStatusCode.OK, status);
        return body.GetProperty("data").EnumerateArray().Select(e => (JsonElement?)e).FirstOrDefault();
    }

    [Fact]
    public async Task A_model_added_serves_at_once_and_a_deleted_one_no_longer_serves()
    {
        // test_add_and_delete_models: a key, a model added with a fresh id and name, a call, a delete, a failing call.
        var key = await _gateway.GenerateKeyAsync("""{"models": [], "duration": null}""", Master);
        var modelId = $"12345_{Guid.NewGuid()}";
        var modelName = Guid.NewGuid().ToString();
        var (status, added) = await Admin("/model/new", AddModelsBody(modelId, modelName, _upstream.ApiBase));
        Assert.True(status == HttpStatusCode.OK, added.ToString());
        Assert.Equal(modelId, added.GetProperty("model_id").GetString());   // response["model_id"] == model_id
        Assert.Equal(modelName, added.GetProperty("model_name").GetString());

        Assert.Equal(HttpStatusCode.OK, await ChatAsync(key, modelName));
        Assert.Equal(1, _upstream.Engine.RequestsFor("gpt-4.1-nano"));

        var (deleted, message) = await Admin("/model/delete", $$"""{"id": "{{modelId}}"}""");
        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.Equal($"Model: {modelId} deleted successfully", message.GetProperty("message").GetString());
        Assert.NotEqual(HttpStatusCode.OK, await ChatAsync(key, modelName));
        Assert.Null(await InfoEntryAsync(modelId));

        var (again, error) = await Admin("/model/delete", $$"""{"id": "{{modelId}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, again);
        Assert.Contains($"Model with id={modelId} not found in db", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Model_info_lists_stored_models_with_their_id_and_db_model_and_never_their_key()
    {
        // The docs' /model/new example, with a literal key (the secret must not come back) and a custom model_info field.
        var (status, added) = await Admin("/model/new", $$"""
            {"model_name": "my-azure-model",
             "litellm_params": {"model": "openai/my-deployment-name", "api_key": "sk-provider-secret-123456", "api_base": "{{_upstream.ApiBase}}",
                                "aws_session_token": "session-token-abcdefgh"},
             "model_info": {"my_custom_key": "my_custom_value"} }
            """);
        Assert.True(status == HttpStatusCode.OK, added.ToString());
        var id = added.GetProperty("model_id").GetString()!;
        Assert.Equal(id, added.GetProperty("model_info").GetProperty("id").GetString());
        Assert.DoesNotContain("sk-provider-secret-123456", added.ToString(), StringComparison.Ordinal);

        var entry = (await InfoEntryAsync(id))!.Value;
        Assert.Equal("my-azure-model", entry.GetProperty("model_name").GetString());
        Assert.Equal("openai/my-deployment-name", entry.GetProperty("litellm_params").GetProperty("model").GetString());
        Assert.False(entry.GetProperty("litellm_params").TryGetProperty("api_key", out _));
        Assert.Equal("sess**************efgh", entry.GetProperty("litellm_params").GetProperty("aws_session_token").GetString());
        Assert.True(entry.GetProperty("model_info").GetProperty("db_model").GetBoolean());
        Assert.Equal("openai", entry.GetProperty("model_info").GetProperty("litellm_provider").GetString());
        Assert.Equal("my_custom_value", entry.GetProperty("model_info").GetProperty("my_custom_key").GetString());
        Assert.DoesNotContain("sk-provider-secret-123456", entry.ToString(), StringComparison.Ordinal);
        // A config file model is listed too, as not stored.
        Assert.False((await InfoEntryAsync("config-gpt-4"))!.Value.GetProperty("model_info").GetProperty("db_model").GetBoolean());

        // /v2/model/info pages: LiteLLM's model_info_v2 takes page, size, search, modelId, model, sortBy and answers
        // data, total_count, total_pages (its unit tests of RBAC and search on /v2/model/info), current_page and size.
        var (v2Status, v2) = await Admin("/v2/model/info?page=1&size=1&sortBy=model_name&sortOrder=desc", null);
        Assert.Equal(HttpStatusCode.OK, v2Status);
        Assert.Equal(2, v2.GetProperty("total_count").GetInt32());
        Assert.Equal(2, v2.GetProperty("total_pages").GetInt32());
        Assert.Equal(1, v2.GetProperty("current_page").GetInt32());
        Assert.Equal(1, v2.GetProperty("size").GetInt32());
        Assert.Equal("my-azure-model", v2.GetProperty("data")[0].GetProperty("model_name").GetString());
        var (searched, found) = await Admin("/v2/model/info?search=azure", null);
        Assert.Equal(HttpStatusCode.OK, searched);
        Assert.Equal(id, Assert.Single(found.GetProperty("data").EnumerateArray()).GetProperty("model_info").GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin("/v2/model/info?page=0", null)).Status);
    }

    [Fact]
    public async Task Credentials_are_encrypted_in_the_database_and_environment_references_kept_as_references()
    {
        var logs = new CapturingLoggerProvider();
        await _gateway.DisposeAsync();
        _gateway = await GatewayServer.StartAsync(Config, dataDirectory: _data, services: s => s.AddSingleton<ILoggerProvider>(logs));
        var (status, added) = await Admin("/model/new", $$"""
            {"model_name": "enc", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-provider-secret-123456", "api_base": "{{_upstream.ApiBase}}"} }
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        var (status2, _) = await Admin("/model/new", AddModelsBody("ref", "ref", _upstream.ApiBase));
        Assert.Equal(HttpStatusCode.OK, status2);

        await using var db = new SqliteConnection($"Data Source={Path.Combine(_data, "gateway.db")};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        var rows = new Dictionary<string, string>();
        await using (var cmd = new SqliteCommand("SELECT model_id, litellm_params FROM proxy_models", db))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) rows[reader.GetString(0)] = reader.GetString(1);
        var encrypted = rows[added.GetProperty("model_id").GetString()!];
        Assert.DoesNotContain("sk-provider-secret-123456", encrypted, StringComparison.Ordinal);
        Assert.Contains("agw-enc:v1:", encrypted, StringComparison.Ordinal);
        Assert.Contains("\"os.environ/OPENAI_API_KEY\"", rows["ref"], StringComparison.Ordinal);

        // The stored key is the one sent upstream.
        using (var chat = await _gateway.ChatAsync(Master, "enc")) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        // The audit log has the change, masked; no log line has the credential.
        var (_, audit) = await Admin("/audit/logs?object_type=model", null);
        Assert.Contains(audit.EnumerateArray(), e => e.GetProperty("action").GetString() == "created" && e.GetProperty("object_id").GetString() == "ref");
        Assert.DoesNotContain("sk-provider-secret-123456", audit.ToString(), StringComparison.Ordinal);
        Assert.Contains(logs.Messages, m => m.Contains("Model ref (ref) created", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("sk-provider-secret-123456", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_start_line_counts_the_files_and_the_databases_deployments_apart()
    {
        var (status, _) = await Admin("/model/new", AddModelsBody("db-1", "from-db", _upstream.ApiBase));
        Assert.Equal(HttpStatusCode.OK, status);
        var logs = new CapturingLoggerProvider();
        await _gateway.DisposeAsync();
        _gateway = await GatewayServer.StartAsync(Config, dataDirectory: _data, services: s => s.AddSingleton<ILoggerProvider>(logs));
        // 2 served: the file's gpt-4 and the stored model; "with 1 deployments from test.yaml" hid the database's.
        Assert.Contains(logs.Messages, m => m.Contains(" with 2 deployments: 1 from test.yaml, 1 from the database", StringComparison.Ordinal));
    }

    /// <summary>Keeps every message logged, from any category.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();
        public IReadOnlyCollection<string> Messages => _messages;
        public ILogger CreateLogger(string categoryName) => new Logger(_messages);
        public void Dispose() { }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception) + exception);
        }
    }

    [Fact]
    public async Task Update_and_patch_change_a_stored_model_and_keep_what_they_do_not_name()
    {
        await using var second = await EmulatorServer.StartAsync();
        var (_, added) = await Admin("/model/new", AddModelsBody("m-1", "movable", _upstream.ApiBase));
        Assert.Equal("m-1", added.GetProperty("model_id").GetString());

        // /model/update (updateDeployment): model_info.id names the model; litellm_params given replace, the rest stay.
        var (status, updated) = await Admin("/model/update", $$"""
            {"model_name": "movable", "litellm_params": {"api_base": "{{second.ApiBase}}"}, "model_info": {"id": "m-1"} }
            """);
        Assert.True(status == HttpStatusCode.OK, updated.ToString());
        Assert.Equal("openai/gpt-4.1-nano", updated.GetProperty("litellm_params").GetProperty("model").GetString());
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "movable"));
        Assert.Equal(1, second.Engine.RequestsFor("gpt-4.1-nano"));
        Assert.Equal(0, _upstream.Engine.RequestsFor("gpt-4.1-nano"));

        // PATCH /model/{model_id}/update: a rename and a limit.
        var (patched, body) = await Admin("/model/m-1/update", """{"model_name": "renamed", "litellm_params": {"rpm": 7}}""", method: HttpMethod.Patch);
        Assert.True(patched == HttpStatusCode.OK, body.ToString());
        var entry = (await InfoEntryAsync("m-1"))!.Value;
        Assert.Equal("renamed", entry.GetProperty("model_name").GetString());
        Assert.Equal(7, entry.GetProperty("litellm_params").GetProperty("rpm").GetInt32());
        Assert.Equal(second.ApiBase, entry.GetProperty("litellm_params").GetProperty("api_base").GetString());
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "renamed"));
        Assert.NotEqual(HttpStatusCode.OK, await ChatAsync(Master, "movable"));

        // A config file model is not editable here, as in LiteLLM; an unknown id is not found.
        var (config, configError) = await Admin("/model/update", """{"litellm_params": {"rpm": 1}, "model_info": {"id": "config-gpt-4"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, config);
        Assert.Contains("Model in config", configError.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin("/model/nope/update", """{"litellm_params": {"rpm": 1}}""", method: HttpMethod.Patch)).Status);
        var (noId, noIdError) = await Admin("/model/update", """{"litellm_params": {"rpm": 1}}""");
        Assert.Equal(HttpStatusCode.BadRequest, noId);
        Assert.Equal("model_info.id not provided", noIdError.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_masked_credential_sent_back_by_an_edit_form_keeps_the_stored_one()
    {
        var (_, added) = await Admin("/model/new", $$"""
            {"model_name": "masked", "litellm_params": {"model": "openai/gpt-4o", "api_base": "{{_upstream.ApiBase}}", "aws_session_token": "session-token-abcdefgh"} }
            """);
        var id = added.GetProperty("model_id").GetString()!;
        var shown = (await InfoEntryAsync(id))!.Value.GetProperty("litellm_params");
        var (status, _) = await Admin($"/model/{id}/update", $$"""{"litellm_params": {{shown.GetRawText()}}}""", method: HttpMethod.Patch);
        Assert.Equal(HttpStatusCode.OK, status);
        var model = await _gateway.Services.GetRequiredService<AgenticGateway.Models.ModelStore>().GetAsync(id, CancellationToken.None);
        Assert.Contains("\"session-token-abcdefgh\"", model!.LitellmParams, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model_name": "x", "litellm_params": {"model": "nosuchprovider/x"}}""", "nosuchprovider")]
    [InlineData("""{"model_name": "x", "litellm_params": {"model": "openai/gpt-4o", "api_base": "not a url"}}""", "litellm_params.api_base: 'not a url' is not an absolute http(s) URL")]
    [InlineData("""{"model_name": "x", "litellm_params": {"model": "openai/gpt-4o", "rpm": "many"}}""", "litellm_params.rpm")]
    [InlineData("""{"model_name": "x", "litellm_params": {"api_base": "http://localhost:1"}}""", "an upstream model is required")]
    [InlineData("""{"litellm_params": {"model": "openai/gpt-4o"}}""", "'model_name' is required")]
    [InlineData("""{"model_name": "x"}""", "'litellm_params' with a model is required")]
    [InlineData("""{"model_name": "x", "litellm_params": "openai/gpt-4o"}""", "'litellm_params' must be an object")]
    [InlineData("""{"model_name": "x", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"id": "config-gpt-4"}}""", "Model with id=config-gpt-4 already exists")]
    [InlineData("""{"model_name": "x", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"team_id": "t1"}}""", "team_id")]
    [InlineData("""{"model_name": "gpt-4-alias", "litellm_params": {"model": "openai/gpt-4o"}}""", "'gpt-4-alias' is a model_group_alias")]
    public async Task Invalid_models_are_refused_with_the_config_loaders_message(string body, string expected)
    {
        var (status, error) = await Admin("/model/new", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var (_, info) = await Admin("/model/info", null);
        Assert.Single(info.GetProperty("data").EnumerateArray());   // only the config file's
    }

    [Fact]
    public async Task Only_the_master_key_writes_and_a_key_reads_only_the_models_it_may_use()
    {
        await Admin("/model/new", AddModelsBody("other", "other-model", _upstream.ApiBase));
        // tests/test_models.py test_get_models: a key limited to gpt-4 sees gpt-4 only.
        var key = await _gateway.GenerateKeyAsync("""{"models": ["gpt-4"], "duration": null}""", Master);
        var (status, info) = await Admin("/model/info", null, key);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.All(info.GetProperty("data").EnumerateArray(), m => Assert.Equal("gpt-4", m.GetProperty("model_name").GetString()));
        var (v2Status, v2) = await Admin("/v2/model/info", null, key);
        Assert.Equal(HttpStatusCode.OK, v2Status);
        Assert.Equal(1, v2.GetProperty("total_count").GetInt32());

        var (write, error) = await Admin("/model/new", AddModelsBody("by-key", "by-key", _upstream.ApiBase), key);
        Assert.True(write is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"{write}: {error}");
        Assert.Equal(write, (await Admin("/model/delete", """{"id": "other"}""", key)).Status);
        Assert.NotNull(await InfoEntryAsync("other"));
    }

    [Fact]
    public async Task Stored_models_survive_a_restart_and_a_config_reload_keeps_them()
    {
        var path = Path.Combine(_data, "config.yaml");
        await File.WriteAllTextAsync(path, Config);
        await _gateway.DisposeAsync();
        _gateway = await GatewayServer.StartAsync(Config, configPath: path, dataDirectory: _data);
        var (status, _) = await Admin("/model/new", AddModelsBody("kept", "kept", _upstream.ApiBase));
        Assert.Equal(HttpStatusCode.OK, status);

        // A reload replaces the file's models and keeps the database's.
        await File.WriteAllTextAsync(path, Config.Replace("model_name: gpt-4\n", "model_name: gpt-4-renamed\n", StringComparison.Ordinal)
            .Replace("gpt-4-alias: gpt-4}", "gpt-4-alias: gpt-4-renamed}", StringComparison.Ordinal));
        Assert.True(_gateway.Services.GetRequiredService<AgenticGateway.Hosting.ConfigWatcher>().Reload());
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "kept"));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "gpt-4-renamed"));
        // And a model change keeps the file's.
        await Admin("/model/new", AddModelsBody("added-after", "added-after", _upstream.ApiBase));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "gpt-4-renamed"));

        // After a restart on the same data directory the stored models are served again, with no model in the file at all.
        await _gateway.DisposeAsync();
        _gateway = await GatewayServer.StartAsync($"""
            model_list: []
            general_settings: {"{"}master_key: {Master}, store_model_in_db: true{"}"}
            """, dataDirectory: _data);
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "kept"));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(Master, "added-after"));
    }

    [Fact]
    public async Task Without_store_model_in_db_the_write_endpoints_answer_as_LiteLLM_does_and_read_no_database()
    {
        var data = Directory.CreateTempSubdirectory("agw-models-off-").FullName;
        await using var off = await GatewayServer.StartAsync(Config.Replace("store_model_in_db: true", "store_model_in_db: false", StringComparison.Ordinal), dataDirectory: data);
        foreach (var (path, body, method) in new[]
        {
            ("/model/new", AddModelsBody("x", "x", _upstream.ApiBase), HttpMethod.Post),
            ("/model/update", """{"model_info": {"id": "x"}}""", HttpMethod.Post),
            ("/model/x/update", """{"litellm_params": {"rpm": 1}}""", HttpMethod.Patch),
            ("/model/delete", """{"id": "x"}""", HttpMethod.Post),
        })
        {
            var (status, error) = await off.AdminAsync(path, body, Master, method);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.StartsWith("Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        var (infoStatus, info) = await off.AdminAsync("/model/info", null, Master);
        Assert.Equal(HttpStatusCode.OK, infoStatus);
        Assert.Single(info.GetProperty("data").EnumerateArray());
        // Nothing was stored, so no database was created.
        Assert.False(File.Exists(Path.Combine(data, "gateway.db")));
    }
}
