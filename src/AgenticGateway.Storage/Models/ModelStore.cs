using System.Data.Common;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Models;

/// <summary>
/// One model kept in the database (LiteLLM's LiteLLM_ProxyModelTable): litellm_params and model_info as JSON text.
/// In memory litellm_params are as given (credentials decrypted); in the database their credentials are encrypted.
/// </summary>
internal sealed record StoredModel(string ModelId, string ModelName, string LitellmParams, string ModelInfo, string CreatedAt, string? CreatedBy, string UpdatedAt, string? UpdatedBy);

/// <summary>A stored model that could not be read back, and why (never the credential itself).</summary>
internal sealed record UnreadableModel(string ModelId, string ModelName, string Reason);

/// <summary>
/// The models added through the management API, in the gateway's database (SQLite or PostgreSQL). Every write also
/// bumps one version number in the same transaction: replicas sharing the database poll it to pick up each other's
/// changes without reading the whole table each time.
/// </summary>
internal sealed class ModelStore(IDatabase db, ModelSecrets secrets)
{
    private const string Columns = "model_id, model_name, litellm_params, model_info, created_at, created_by, updated_at, updated_by";

    public async Task<long> VersionAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>("SELECT version FROM proxy_models_version WHERE id = 1");
    }

    /// <summary>Every stored model, oldest first; the ones whose credentials cannot be decrypted are listed apart.</summary>
    public async Task<(IReadOnlyList<StoredModel> Models, IReadOnlyList<UnreadableModel> Unreadable)> ListAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<Row>($"SELECT {Columns} FROM proxy_models ORDER BY created_at, model_id");
        var models = new List<StoredModel>();
        var unreadable = new List<UnreadableModel>();
        foreach (var row in rows)
        {
            try { models.Add(Read(row)); }
            catch (ModelSecretsException ex) { unreadable.Add(new UnreadableModel(row.model_id, row.model_name, ex.Message)); }
        }
        return (models, unreadable);
    }

    /// <exception cref="ModelSecretsException">Its credentials cannot be decrypted.</exception>
    public async Task<StoredModel?> GetAsync(string modelId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM proxy_models WHERE model_id = @modelId", new { modelId });
        return row is null ? null : Read(row);
    }

    /// <summary>Stores a new model; false when its id is taken.</summary>
    /// <exception cref="ModelSecretsException">It has a credential and there is no key to encrypt it with.</exception>
    public Task<bool> InsertAsync(StoredModel m, CancellationToken ct) => WriteAsync($"""
        INSERT INTO proxy_models ({Columns}) VALUES (@ModelId, @ModelName, @LitellmParams, @ModelInfo, @CreatedAt, @CreatedBy, @UpdatedAt, @UpdatedBy)
        ON CONFLICT (model_id) DO NOTHING
        """, m with { LitellmParams = secrets.Protect(m.LitellmParams) }, ct);

    /// <summary>Replaces a model's name, params and info; false when it is gone.</summary>
    public Task<bool> UpdateAsync(StoredModel m, CancellationToken ct) => WriteAsync("""
        UPDATE proxy_models SET model_name = @ModelName, litellm_params = @LitellmParams, model_info = @ModelInfo, updated_at = @UpdatedAt, updated_by = @UpdatedBy
        WHERE model_id = @ModelId
        """, m with { LitellmParams = secrets.Protect(m.LitellmParams) }, ct);

    /// <summary>Removes a model; false when there was none with that id.</summary>
    public Task<bool> DeleteAsync(string modelId, CancellationToken ct) => WriteAsync("DELETE FROM proxy_models WHERE model_id = @modelId", new { modelId }, ct);

    private async Task<bool> WriteAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using DbTransaction tx = await c.BeginTransactionAsync(ct);
        var changed = await c.ExecuteAsync(sql, parameters, tx);
        if (changed > 0) await c.ExecuteAsync("UPDATE proxy_models_version SET version = version + 1 WHERE id = 1", transaction: tx);
        await tx.CommitAsync(ct);
        return changed > 0;
    }

    private StoredModel Read(Row r) =>
        new(r.model_id, r.model_name, secrets.Unprotect(r.litellm_params), r.model_info, r.created_at, r.created_by, r.updated_at, r.updated_by);

#pragma warning disable IDE1006, CA1812 // Dapper fills the columns by name.
    private sealed record Row(string model_id, string model_name, string litellm_params, string model_info, string created_at, string? created_by, string updated_at, string? updated_by);
#pragma warning restore IDE1006, CA1812
}
