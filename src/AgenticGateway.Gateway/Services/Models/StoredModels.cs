using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Data.Common;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Models;
using AgenticGateway.Observability;
using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Models;

/// <summary>How often a replica looks for another replica's model changes (one small query on the version row).</summary>
internal sealed record ModelSyncOptions(TimeSpan PollInterval)
{
    public static readonly ModelSyncOptions Default = new(TimeSpan.FromSeconds(2));
}

/// <summary>
/// The models stored in the database, loaded into the runtime beside the config file's. A change made here is served
/// at once (the endpoint refreshes before it answers); one made by another replica is picked up within
/// <see cref="ModelSyncOptions.PollInterval"/>, when the store's version moves. With store_model_in_db off, nothing is
/// read (a gateway that stores nothing opens no database).
/// </summary>
internal sealed class StoredModels(ModelStore store, RuntimeHolder runtimes, ModelSyncOptions sync, TimeProvider time, ILogger<StoredModels> logger) : BackgroundService
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private long _version = -1;
    private volatile FrozenDictionary<string, StoredModel> _models = FrozenDictionary<string, StoredModel>.Empty;

    /// <summary>The stored models last read, by id (credentials decrypted: never to be written out unmasked).</summary>
    public FrozenDictionary<string, StoredModel> Models => _models;

    public bool Enabled => runtimes.Configured.StoreModelInDb;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the server takes requests, so the stored models are served from the first one. A database that is
        // down does not stop the gateway: the poll below keeps trying.
        await TryRefreshAsync(force: true, cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(sync.PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await TryRefreshAsync(force: false, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    private async Task TryRefreshAsync(bool force, CancellationToken ct)
    {
        try { await RefreshAsync(force, ct); }
        catch (DbException ex) { Log.StoredModelsUnavailable(logger, ex.Message); }
    }

    /// <summary>Reads the stored models again when they changed (or when <paramref name="force"/>) and swaps them into the runtime.</summary>
    public async Task RefreshAsync(bool force, CancellationToken ct)
    {
        await _refresh.WaitAsync(ct);
        try
        {
            if (!Enabled)
            {
                // Turned off by a reload: stop serving them.
                if (_models.Count > 0) runtimes.SwapStored([]);
                _models = FrozenDictionary<string, StoredModel>.Empty;
                _version = -1;
                return;
            }
            var version = await store.VersionAsync(ct);
            if (!force && version == _version) return;
            var (models, unreadable) = await store.ListAsync(ct);
            foreach (var u in unreadable) Log.StoredModelSkipped(logger, u.ModelId, u.ModelName, u.Reason);
            var deployments = ImmutableArray.CreateBuilder<DeploymentOptions>(models.Count);
            foreach (var m in models)
            {
                var built = Build(m);
                if (built.Deployment is { } d) deployments.Add(d);
                else Log.StoredModelSkipped(logger, m.ModelId, m.ModelName, string.Join("; ", built.Errors));
            }
            _models = models.ToFrozenDictionary(m => m.ModelId, StringComparer.Ordinal);
            runtimes.SwapStored(deployments.ToImmutable());
            Log.StoredModelsLoaded(logger, deployments.Count);
            _version = version;
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>A stored model validated by the config file's rules (environment references resolved here).</summary>
    public static StoredDeploymentResult Build(StoredModel m)
    {
        using var p = JsonDocument.Parse(m.LitellmParams);
        using var info = JsonDocument.Parse(m.ModelInfo);
        return StoredDeployment.Build(m.ModelName, p.RootElement, info.RootElement, m.ModelId);
    }

    public override void Dispose()
    {
        _refresh.Dispose();
        base.Dispose();
    }
}
