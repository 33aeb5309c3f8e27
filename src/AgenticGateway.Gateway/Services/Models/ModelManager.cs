using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Models;
using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Admin;

namespace AgenticGateway.Services.Models;

/// <summary>
/// LiteLLM's model management API (/model/new, /model/update, PATCH /model/{id}/update, /model/delete) over the
/// models stored in the database. A model is validated by the config file's rules before it is stored, is served by
/// this replica before the call answers, and by the others within their poll interval. Config file models are read-only
/// here, as in LiteLLM.
/// </summary>
internal sealed class ModelManager(ModelStore store, StoredModels stored, RuntimeHolder runtimes, AuditLog audit, TimeProvider time, ILogger<ModelManager> logger)
{
    /// <summary>LiteLLM's answer when store_model_in_db is off (it sends it with a 500; a setting, not a fault, so 400 here as its PATCH does).</summary>
    private const string Disabled = "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature. (Or general_settings.store_model_in_db: true in the config file.)";

    public async Task<KeyResult> NewAsync(KeyRequest r, CancellationToken ct)
    {
        if (!stored.Enabled) return KeyResult.Fail(ApiError.BadRequest(Disabled, code: "store_model_in_db_disabled"));
        var name = r.String("model_name");
        if (string.IsNullOrWhiteSpace(name)) r.Errors.Add("'model_name' is required");
        var p = Object(r, "litellm_params");
        if (p is null && r.Has("litellm_params") == false) r.Errors.Add("'litellm_params' with a model is required");
        var info = Object(r, "model_info");
        if (r.Error is { } bad) return KeyResult.Fail(bad);
        if (TeamModel(info) is { } team) return KeyResult.Fail(team);

        var id = info is { } i && i.TryGetProperty("id", out var given) && given.ValueKind == JsonValueKind.String && given.GetString() is { Length: > 0 } text
            ? text : Guid.NewGuid().ToString();
        if (runtimes.Configured.Deployments.Any(d => d.Id == id) || stored.Models.ContainsKey(id))
            return KeyResult.Fail(ApiError.BadRequest($"Model with id={id} already exists", "model_info.id", "model_exists"));
        var infoText = WithId(info, id);
        if (Validate(name!, p!.Value, infoText, id, null) is { } invalid) return KeyResult.Fail(invalid);

        var now = time.GetUtcNow().ToString("O");
        var row = new StoredModel(id, name!, p.Value.GetRawText(), infoText, now, r.Actor, now, r.Actor);
        if (!await store.InsertAsync(row, ct)) return KeyResult.Fail(ApiError.BadRequest($"Model with id={id} already exists", "model_info.id", "model_exists"));
        await ChangedAsync(r.Actor, "created", null, row);
        return KeyResult.Ok(w => ModelJson.WriteRow(w, row));
    }

    /// <summary>/model/update: the model named by model_info.id; fields given replace the stored ones, the rest stay.</summary>
    public Task<KeyResult> UpdateAsync(KeyRequest r, CancellationToken ct)
    {
        if (!stored.Enabled) return Task.FromResult(KeyResult.Fail(ApiError.BadRequest(Disabled, code: "store_model_in_db_disabled")));
        var info = Object(r, "model_info");
        if (r.Error is { } bad) return Task.FromResult(KeyResult.Fail(bad));
        var id = info is { } i && i.TryGetProperty("id", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (string.IsNullOrEmpty(id)) return Task.FromResult(KeyResult.Fail(ApiError.BadRequest("model_info.id not provided", "model_info.id")));
        // LiteLLM answers an unknown id here with a 400 (its PATCH with a 404).
        return ChangeAsync(id, r, 400, ct);
    }

    /// <summary>PATCH /model/{model_id}/update (the id from the path).</summary>
    public Task<KeyResult> PatchAsync(KeyRequest r, CancellationToken ct)
    {
        if (!stored.Enabled) return Task.FromResult(KeyResult.Fail(ApiError.BadRequest(Disabled, code: "store_model_in_db_disabled")));
        return ChangeAsync(r.RouteKey ?? "", r, 404, ct);
    }

    public async Task<KeyResult> DeleteAsync(KeyRequest r, CancellationToken ct)
    {
        if (!stored.Enabled) return KeyResult.Fail(ApiError.BadRequest(Disabled, code: "store_model_in_db_disabled"));
        var id = r.String("id");
        if (r.Error is { } bad) return KeyResult.Fail(bad);
        if (string.IsNullOrEmpty(id)) return KeyResult.Fail(ApiError.BadRequest("'id' (the model_info.id of the model) is required", "id"));
        StoredModel? before;
        try { before = await store.GetAsync(id, ct); }
        catch (ModelSecretsException) { before = null; }   // unreadable credentials are no reason to keep a model
        if (!await store.DeleteAsync(id, ct))
        {
            var message = runtimes.Configured.Deployments.Any(d => d.Id == id)
                ? $"Model with id={id} is in the config file, not the database: remove it from the file"
                : $"Model with id={id} not found in db";
            return KeyResult.Fail(ApiError.BadRequest(message, "id", "model_not_found"));
        }
        await ChangedAsync(r.Actor, "deleted", before, null, id);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("message", $"Model: {id} deleted successfully");
            w.WriteEndObject();
        });
    }

    private async Task<KeyResult> ChangeAsync(string id, KeyRequest r, int notFoundStatus, CancellationToken ct)
    {
        var p = Object(r, "litellm_params");
        var info = Object(r, "model_info");
        var newName = r.String("model_name");
        if (r.Error is { } bad) return KeyResult.Fail(bad);
        if (TeamModel(info) is { } team) return KeyResult.Fail(team);
        var existing = await store.GetAsync(id, ct);
        if (existing is null)
        {
            if (runtimes.Configured.Deployments.Any(d => d.Id == id))
                return KeyResult.Fail(ApiError.BadRequest("Can't edit model. Model in config. Store model in db via `/model/new`. to edit.", "model_info.id", "config_model"));
            return KeyResult.Fail(new ApiError(notFoundStatus, $"Model {id} not found on proxy.", "invalid_request_error", "model_not_found", "model_info.id"));
        }

        var name = string.IsNullOrWhiteSpace(newName) ? existing.ModelName : newName;
        var paramsText = Merge(existing.LitellmParams, p, keepId: false);
        var infoText = Merge(existing.ModelInfo, info, keepId: true);
        if (Validate(name, JsonDocument.Parse(paramsText).RootElement, infoText, id, existing.ModelName) is { } invalid) return KeyResult.Fail(invalid);

        var updated = existing with { ModelName = name, LitellmParams = paramsText, ModelInfo = infoText, UpdatedAt = time.GetUtcNow().ToString("O"), UpdatedBy = r.Actor };
        if (!await store.UpdateAsync(updated, ct))
            return KeyResult.Fail(new ApiError(notFoundStatus, $"Model {id} not found on proxy.", "invalid_request_error", "model_not_found", "model_info.id"));
        await ChangedAsync(r.Actor, "updated", existing, updated);
        return KeyResult.Ok(w => ModelJson.WriteRow(w, updated));
    }

    /// <summary>The config file's rules for one model entry, and the group size limit over everything served.</summary>
    private ApiError? Validate(string name, JsonElement litellmParams, string modelInfo, string id, string? previousName)
    {
        using var info = JsonDocument.Parse(modelInfo);
        var result = StoredDeployment.Build(name, litellmParams, info.RootElement, id);
        if (result.Deployment is null) return ApiError.BadRequest(string.Join("; ", result.Errors), "litellm_params", "invalid_model");
        // As in a config file, a group may not share its name with an alias (the alias would hide it).
        if (runtimes.Configured.Aliases.ContainsKey(name))
            return ApiError.BadRequest($"'{name}' is a model_group_alias in the config file; give the model another name", "model_name");
        if (name != previousName && runtimes.Current.AllDeployments.Count(d => d.GroupName == name) >= DeploymentOptions.MaxPerGroup)
            return ApiError.BadRequest($"model group '{name}' already has {DeploymentOptions.MaxPerGroup} deployments, the most a group may have", "model_name");
        return null;
    }

    /// <summary>
    /// Serves the change here at once, and records it (credentials masked) in the audit log. Not cancelled with the
    /// request: the change is committed, so a caller that hung up must not leave it unserved or unrecorded.
    /// </summary>
    private async Task ChangedAsync(string actor, string action, StoredModel? before, StoredModel? after, string? id = null)
    {
        await stored.RefreshAsync(force: true, CancellationToken.None);
        var model = after ?? before;
        id ??= model!.ModelId;
        await audit.RecordAsync(actor, action, "model", id, before is null ? null : ModelJson.RowText(before), after is null ? null : ModelJson.RowText(after), CancellationToken.None);
        Log.StoredModelChanged(logger, id, model?.ModelName ?? "", action, actor);
    }

    private static JsonElement? Object(KeyRequest r, string name)
    {
        if (r.Element(name) is not { } e) return null;
        if (e.ValueKind == JsonValueKind.Object) return e;
        r.Errors.Add($"'{name}' must be an object");
        return null;
    }

    /// <summary>LiteLLM's team models (model_info.team_id) are an enterprise feature there and not offered here: say so rather than store a model nobody may use.</summary>
    private static ApiError? TeamModel(JsonElement? info) =>
        info is { } i && i.TryGetProperty("team_id", out var t) && t.ValueKind != JsonValueKind.Null
            ? ApiError.BadRequest("model_info.team_id (a model owned by a team) is not supported; add the model without it and give the team access with /team/update models", "model_info.team_id", "team_models_not_supported")
            : null;

    private static string WithId(JsonElement? info, string id)
    {
        var node = info is { } i ? (JsonObject)JsonNode.Parse(i.GetRawText())! : [];
        node["id"] = id;
        return node.ToJsonString();
    }

    /// <summary>
    /// The stored object with the given fields replacing its own (null leaves a field as it is, as LiteLLM's update
    /// does). A credential sent back as /model/info masked it keeps its stored value, so an edit form that round-trips
    /// the masked value does not overwrite the secret with stars.
    /// </summary>
    private static string Merge(string storedJson, JsonElement? changes, bool keepId)
    {
        var node = (JsonObject)JsonNode.Parse(storedJson)!;
        if (changes is not { } c) return node.ToJsonString();
        foreach (var p in c.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Null || (keepId && p.Name == "id")) continue;
            if (SecretFields.IsSensitive(p.Name) && p.Value.ValueKind == JsonValueKind.String && node[p.Name] is JsonValue old
                && old.TryGetValue<string>(out var oldText) && p.Value.GetString() == SecretFields.Mask(oldText)) continue;
            node[p.Name] = JsonNode.Parse(p.Value.GetRawText());
        }
        return node.ToJsonString();
    }
}
