using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Pause and resume (same id), snapshots and forks (new ids): the manager's side, which owns the checksums, the
/// per-owner caps and ownership; the drivers (<see cref="ISandboxPersistence"/>) only move state to and from files.
/// </summary>
internal sealed partial class SandboxManager
{
    /// <summary>A save that hangs (a wedged agent or VMM) is given up after this, and the sandbox keeps running.</summary>
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromMinutes(10);
    private readonly SnapshotStore? _store;
    private readonly ConcurrentDictionary<string, StoredState> _paused = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StoredState> _snapshots = new(StringComparer.Ordinal);
    /// <summary>Ids of saved states being resumed, forked from or deleted right now: one of them at a time.</summary>
    private readonly ConcurrentDictionary<string, byte> _claims = new(StringComparer.Ordinal);
    /// <summary>Saves in progress per owner, counted against the caps before their size is known.</summary>
    private readonly ConcurrentDictionary<string, int> _savesInProgress = new(StringComparer.Ordinal);
    private readonly Lock _capGate = new();
    private DateTimeOffset _nextExpiry;

    /// <summary>Stops the sandbox with its state kept on disk under the same id; <see cref="ResumeAsync"/> brings it back.</summary>
    public async Task<(PausedSandbox? Paused, ApiError? Error)> PauseAsync(Sandbox sandbox, CancellationToken cancellationToken)
    {
        var (stored, error) = await SaveAsync(sandbox, pause: true, cancellationToken);
        return stored is null ? (null, error) : (ToPaused(stored), null);
    }

    /// <summary>Saves a copy of the sandbox's state while it keeps running (a microVM stops for the moment of the copy).</summary>
    public async Task<(SandboxSnapshotInfo? Snapshot, ApiError? Error)> SnapshotAsync(Sandbox sandbox, CancellationToken cancellationToken)
    {
        var (stored, error) = await SaveAsync(sandbox, pause: false, cancellationToken);
        return stored is null ? (null, error) : (ToSnapshot(stored), null);
    }

    /// <summary>
    /// Starts a paused sandbox again (same id), after verifying every file of its state against its manifest. A
    /// sandbox of the owner's that is already running is returned as it is (resuming twice is not an error).
    /// </summary>
    /// <param name="timeout">Its new lifetime from now; null: the one it was created with.</param>
    public async Task<(Sandbox? Sandbox, ApiError? Error)> ResumeAsync(string owner, string id, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (Find(owner, id) is { } running) return (running, null);
        if (!_paused.TryGetValue(id, out var state) || state.Manifest.Owner != owner)
            return (null, new ApiError(404, $"No paused sandbox '{Shown(id)}'.", "invalid_request_error", "sandbox_not_found", "id"));
        if (!_claims.TryAdd(id, 0)) return (null, Busy($"The paused sandbox {id} is being resumed or deleted."));
        try
        {
            if (!_paused.ContainsKey(id)) return (null, new ApiError(404, $"No paused sandbox '{Shown(id)}'.", "invalid_request_error", "sandbox_not_found", "id"));
            var spec = state.Manifest.Spec.ToSpec();
            if (timeout is { } t) spec = spec with { Resources = spec.Resources with { Timeout = t } };
            var (sandbox, error) = await StartFromStateAsync(owner, id, state, spec, cancellationToken);
            if (sandbox is null) return (null, error);
            // Resumed: the state is used up (a later pause writes a new one).
            _paused.TryRemove(id, out _);
            SnapshotStore.Delete(state);
            PersistenceLog.Resumed(_logger, id, state.Manifest.Isolation);
            return (sandbox, null);
        }
        finally
        {
            _claims.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// A new sandbox (new id) started from a snapshot, after verifying it. It runs what the snapshot's sandbox ran
    /// (runtime, isolation, resources, network); <paramref name="spec"/>'s timeout, auto-pause and metadata (when it
    /// has any) apply, and its env adds to the snapshot's.
    /// </summary>
    public async Task<(Sandbox? Sandbox, ApiError? Error)> CreateFromSnapshotAsync(string owner, string snapshotId, SandboxSpec spec, CancellationToken cancellationToken)
    {
        if (!_snapshots.TryGetValue(snapshotId, out var state) || state.Manifest.Owner != owner)
            return (null, new ApiError(404, $"No snapshot '{Shown(snapshotId)}'.", "invalid_request_error", "snapshot_not_found", "snapshot"));
        if (!_claims.TryAdd(snapshotId, 0)) return (null, Busy($"The snapshot {snapshotId} is being deleted or used by another fork; try again."));
        try
        {
            if (!_snapshots.ContainsKey(snapshotId)) return (null, new ApiError(404, $"No snapshot '{Shown(snapshotId)}'.", "invalid_request_error", "snapshot_not_found", "snapshot"));
            var saved = state.Manifest.Spec.ToSpec();
            var merged = saved with
            {
                Resources = saved.Resources with { Timeout = spec.Resources.Timeout },
                Metadata = spec.Metadata.IsEmpty ? saved.Metadata : spec.Metadata,
                Env = saved.Env.SetItems(spec.Env),
                AutoPause = spec.AutoPause,
                E2bTemplate = spec.E2bTemplate ?? saved.E2bTemplate,
            };
            var (sandbox, error) = await StartFromStateAsync(owner, NewId(), state, merged, cancellationToken);
            if (sandbox is not null) PersistenceLog.Forked(_logger, sandbox.Id, snapshotId);
            return (sandbox, error);
        }
        finally
        {
            _claims.TryRemove(snapshotId, out _);
        }
    }

    public IEnumerable<PausedSandbox> ListPaused(string owner) =>
        _paused.Values.Where(s => s.Manifest.Owner == owner).OrderBy(s => s.Manifest.SavedAt).Select(ToPaused);

    public PausedSandbox? FindPaused(string owner, string id) =>
        _paused.TryGetValue(id, out var s) && s.Manifest.Owner == owner ? ToPaused(s) : null;

    /// <summary>A paused sandbox by id alone, whoever owns it: for a caller that proves its right otherwise (E2B's access token).</summary>
    public PausedSandbox? FindPaused(string id) => _paused.TryGetValue(id, out var s) ? ToPaused(s) : null;

    public IEnumerable<SandboxSnapshotInfo> ListSnapshots(string owner) =>
        _snapshots.Values.Where(s => s.Manifest.Owner == owner).OrderBy(s => s.Manifest.SavedAt).Select(ToSnapshot);

    public SandboxSnapshotInfo? FindSnapshot(string owner, string snapshotId) =>
        _snapshots.TryGetValue(snapshotId, out var s) && s.Manifest.Owner == owner ? ToSnapshot(s) : null;

    /// <summary>Deletes a snapshot of the owner's; false when there is none by that id (or it is in use by a fork right now).</summary>
    public Task<bool> DeleteSnapshotAsync(string owner, string snapshotId) => Task.FromResult(Delete(_snapshots, owner, snapshotId));

    /// <summary>Deletes a paused sandbox's state (killing a paused sandbox): it can no longer be resumed.</summary>
    public Task<bool> DeletePausedAsync(string owner, string id) => Task.FromResult(Delete(_paused, owner, id));

    private bool Delete(ConcurrentDictionary<string, StoredState> states, string owner, string id)
    {
        if (!states.TryGetValue(id, out var state) || state.Manifest.Owner != owner || !_claims.TryAdd(id, 0)) return false;
        try
        {
            if (!states.TryRemove(id, out _)) return false;
            SnapshotStore.Delete(state);
            return true;
        }
        finally
        {
            _claims.TryRemove(id, out _);
        }
    }

    /// <summary>Auto-pause at the timeout; when the pause is refused (a cap, a driver that cannot), the sandbox ends as it would have.</summary>
    private async Task AutoPauseAsync(Sandbox sandbox)
    {
        var (paused, error) = await PauseAsync(sandbox, CancellationToken.None);
        if (paused is not null || error?.Code == BusyCode) return;     // busy: another save holds it; a later tick tries again
        PersistenceLog.AutoPauseFailed(_logger, sandbox.Id, error?.Message ?? "unknown");
        await EndAsync(sandbox, "expired");
    }

    /// <summary>
    /// At shutdown, sandboxes that asked for auto-pause are paused rather than ended, so that they are there to resume
    /// after the restart (within the host's shutdown time; what is not paused by then ends as the others do).
    /// </summary>
    private async Task PauseForShutdownAsync(CancellationToken cancellationToken)
    {
        if (_store is null) return;
        var pausing = _live.Values.Where(s => s.Spec.AutoPause && !s.HasEnded).Select(s => PauseAsync(s, cancellationToken)).ToList();
        if (pausing.Count == 0) return;
        try { await Task.WhenAll(pausing).WaitAsync(TimeSpan.FromSeconds(20), cancellationToken); }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException) { }
    }

    private async Task<(StoredState? State, ApiError? Error)> SaveAsync(Sandbox sandbox, bool pause, CancellationToken cancellationToken)
    {
        var what = pause ? "paused" : "snapshotted";
        if (_store is null) return (null, new ApiError(400, $"The sandbox cannot be {what}: persistence is off on this gateway (sandboxes.persistence.enabled).", "invalid_request_error", "sandbox_persistence_disabled"));
        if (_drivers.GetValueOrDefault(sandbox.Instance.Isolation) is not ISandboxPersistence driver)
            return (null, new ApiError(400, $"Sandboxes on {sandbox.Instance.Isolation} cannot be {what}.", "invalid_request_error", "sandbox_persistence_unsupported"));
        if (!sandbox.TryBeginSave(pause)) return (null, Busy($"The sandbox {sandbox.Id} is already being paused or snapshotted."));
        var owner = sandbox.Owner;
        var reserved = false;
        string? staging = null;
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (ReserveSave(owner, pause) is { } refused) return (null, refused);
            reserved = true;
            staging = _store.NewStaging();
            IReadOnlyDictionary<string, string> driverState;
            using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                limit.CancelAfter(SaveTimeout);
                try { driverState = await driver.SaveAsync(sandbox.Instance, sandbox.Spec.Resources, staging, keepRunning: !pause, limit.Token); }
                catch (Exception ex) when (ex is IOException or AgentException or InvalidOperationException or OperationCanceledException or Qemu.QmpException or Firecracker.FirecrackerApiException or Bubblewrap.SandboxStartException)
                {
                    PersistenceLog.SaveFailed(_logger, sandbox.Id, ex.Message);
                    return (null, new ApiError(503, $"The sandbox {sandbox.Id} could not be {what}: {ex.Message}. It keeps running.", "service_unavailable", "sandbox_save_failed"));
                }
            }
            var now = _time.GetUtcNow();
            var manifest = new SnapshotManifest
            {
                Kind = pause ? SnapshotManifest.PausedKind : SnapshotManifest.SnapshotKind,
                Id = pause ? sandbox.Id : "snap-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10)),
                SandboxId = sandbox.Id,
                Owner = owner,
                Isolation = sandbox.Instance.Isolation,
                Image = sandbox.Instance.Image,
                SandboxCreatedAt = sandbox.CreatedAt,
                SavedAt = now,
                Spec = SnapshotSpec.From(sandbox.Spec),
                Driver = new(driverState),
                Files = [],
            };
            StoredState stored;
            try { stored = await _store.CommitAsync(staging, manifest, CancellationToken.None); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                PersistenceLog.SaveFailed(_logger, sandbox.Id, ex.Message);
                return (null, new ApiError(503, $"The sandbox {sandbox.Id} could not be {what}: its state could not be written ({ex.Message}). It keeps running.", "service_unavailable", "sandbox_save_failed"));
            }
            staging = null;
            var limitBytes = _options.Persistence.MaxDiskMb << 20;
            var used = DiskOf(owner);
            if (used + stored.Manifest.SizeBytes > limitBytes)
            {
                SnapshotStore.Delete(stored);
                return (null, new ApiError(413, $"The sandbox's state ({Mib(stored.Manifest.SizeBytes)} MiB) does not fit in the {_options.Persistence.MaxDiskMb} MiB this key may keep for paused sandboxes and snapshots ({Mib(used)} MiB used). Delete a snapshot or a paused sandbox first.", "invalid_request_error", "sandbox_persistence_disk_quota"));
            }
            if (pause)
            {
                // Ended between the save and now (deleted, crashed): there is nothing to resume.
                if (!sandbox.TryEnd("paused"))
                {
                    SnapshotStore.Delete(stored);
                    return (null, new ApiError(404, $"The sandbox {sandbox.Id} ended while it was being paused.", "invalid_request_error", "sandbox_not_found"));
                }
                _paused[sandbox.Id] = stored;
                await TearDownAsync(sandbox, "paused");
            }
            else _snapshots[stored.Manifest.Id] = stored;
            PersistenceLog.Saved(_logger, sandbox.Id, stored.Manifest.Kind, stored.Manifest.Id, stored.Manifest.SizeBytes, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return (stored, null);
        }
        finally
        {
            if (staging is not null) UnixFiles.TryDeleteTree(staging);
            if (reserved) _savesInProgress.AddOrUpdate(owner, 0, (_, n) => n - 1);
            sandbox.EndSave();
        }
    }

    /// <summary>Counts a save against the owner's cap of paused sandboxes or snapshots, or says why it may not start.</summary>
    private ApiError? ReserveSave(string owner, bool pause)
    {
        var caps = _options.Persistence;
        lock (_capGate)
        {
            var states = pause ? _paused : _snapshots;
            var count = states.Values.Count(s => s.Manifest.Owner == owner) + _savesInProgress.GetValueOrDefault(owner);
            var max = pause ? caps.MaxPaused : caps.MaxSnapshots;
            if (count >= max)
                return new ApiError(429, pause
                    ? $"At most {max} paused sandboxes per key: resume or delete one first (sandboxes.persistence.max_paused)."
                    : $"At most {max} snapshots per key: delete one first (sandboxes.persistence.max_snapshots).", "rate_limit_error", pause ? "sandbox_paused_quota" : "sandbox_snapshot_quota");
            if (DiskOf(owner) >= caps.MaxDiskMb << 20)
                return new ApiError(413, $"This key's paused sandboxes and snapshots already take the {caps.MaxDiskMb} MiB it may keep. Delete some first.", "invalid_request_error", "sandbox_persistence_disk_quota");
            _savesInProgress.AddOrUpdate(owner, 1, (_, n) => n + 1);
            return null;
        }
    }

    private long DiskOf(string owner) =>
        _paused.Values.Concat(_snapshots.Values).Where(s => s.Manifest.Owner == owner).Sum(s => s.Manifest.SizeBytes);

    /// <summary>Verifies a saved state, then starts a sandbox from it under <paramref name="id"/>, within the owner's quotas.</summary>
    private async Task<(Sandbox? Sandbox, ApiError? Error)> StartFromStateAsync(string owner, string id, StoredState state, SandboxSpec spec, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (await SnapshotStore.VerifyAsync(state, cancellationToken) is { } corrupt)
        {
            PersistenceLog.Corrupt(_logger, state.Manifest.Id, corrupt.Message);
            return (null, corrupt);
        }
        var isolation = state.Manifest.Isolation;
        if (_drivers.GetValueOrDefault(isolation) is not { } driver || driver is not ISandboxPersistence persistence)
            return (null, new ApiError(503, $"The state of {state.Manifest.Id} was saved on {isolation}, which this gateway does not offer now.", "service_unavailable", "sandbox_isolation_unavailable"));
        if (driver.Unavailable is { } why)
            return (null, new ApiError(503, $"Isolation \"{isolation}\" is not available on this host: {why}", "service_unavailable", "sandbox_isolation_unavailable"));
        var max = _options.Max.Timeout;
        var resources = spec.Resources;
        if (resources.Timeout > max) resources = resources with { Timeout = max };
        if (_quotas.TryAdmit(owner, resources.Timeout, LiveSecondsOf(owner, _time.GetUtcNow())) is { } refusal) return (null, refusal);
        var admitted = false;
        var pool = _options.Pools.GetValueOrDefault(spec.Runtime);
        if (!_counts.TryReserve(spec.Runtime, pool?.MaxTotal ?? int.MaxValue))
        {
            _quotas.Released(owner, TimeSpan.Zero);
            return (null, new ApiError(503, $"The gateway runs its maximum of {pool!.MaxTotal} {spec.Runtime} sandboxes; try again later.", "service_unavailable", "sandbox_capacity") { RetryAfterSeconds = 5 });
        }
        try
        {
            var launch = new SandboxLaunch(id, resources, _options.MaxProcesses, spec.Network, pool?.BootTimeout ?? TimeSpan.FromSeconds(10));
            ISandboxInstance instance;
            try { instance = await persistence.RestoreAsync(launch, state.Directory, state.Manifest, cancellationToken); }
            catch (Bubblewrap.SandboxStartException ex)
            {
                SandboxLog.StartFailed(_logger, id, ex.Message);
                return (null, new ApiError(503, $"The sandbox could not be started from {state.Manifest.Id}: {ex.Message}", "service_unavailable", "sandbox_start_failed") { RetryAfterSeconds = 1 });
            }
            try
            {
                // A microVM resumes with its interpreter alive ("exists"); a bubblewrap sandbox starts a fresh one.
                try { await instance.Agent.CallAsync(AgentOps.ContextCreate, w => { w.WriteString("context", spec.Runtime); w.WriteString("language", spec.Runtime); }, cancellationToken); }
                catch (AgentException ex) when (ex.Code == AgentErrors.Exists) { }
            }
            catch (Exception ex)
            {
                await instance.DisposeAsync();
                if (ex is AgentException a)
                    return (null, new ApiError(503, $"The sandbox's {spec.Runtime} interpreter did not start: {a.Message}", "service_unavailable", "sandbox_start_failed"));
                throw;
            }
            var sandbox = Admit(id, owner, spec with { Resources = resources }, instance);
            admitted = true;
            await AnnounceAsync(sandbox, false, state.Manifest.Kind == SnapshotManifest.PausedKind ? "resume" : "fork", started);
            return (sandbox, null);
        }
        finally
        {
            if (!admitted)
            {
                _quotas.Released(owner, TimeSpan.Zero);
                _counts.Release(spec.Runtime);
            }
        }
    }

    /// <summary>At start: the paused sandboxes and snapshots an earlier run kept (they survive a restart).</summary>
    private void LoadStates()
    {
        if (_store is null) return;
        foreach (var state in _store.LoadAll((directory, problem) => PersistenceLog.Unreadable(_logger, directory, problem)))
            (state.Manifest.Kind == SnapshotManifest.PausedKind ? _paused : _snapshots)[state.Manifest.Id] = state;
        if (!_paused.IsEmpty || !_snapshots.IsEmpty) PersistenceLog.Loaded(_logger, _paused.Count, _snapshots.Count);
    }

    /// <summary>With a ttl, deletes states older than it (checked once a minute).</summary>
    private void ExpireStates(DateTimeOffset now)
    {
        if (_options.Persistence.Ttl is not { } ttl || now < _nextExpiry) return;
        _nextExpiry = now + TimeSpan.FromMinutes(1);
        foreach (var states in new[] { _paused, _snapshots })
            foreach (var state in states.Values.Where(s => now - s.Manifest.SavedAt >= ttl))
                if (Delete(states, state.Manifest.Owner, state.Manifest.Id)) PersistenceLog.Expired(_logger, state.Manifest.Id);
    }

    private const string BusyCode = "sandbox_busy";

    private static ApiError Busy(string message) => new(409, message, "invalid_request_error", BusyCode);

    private static PausedSandbox ToPaused(StoredState s) =>
        new(s.Manifest.Id, s.Manifest.Owner, s.Manifest.Spec.ToSpec(), s.Manifest.Isolation, s.Manifest.SandboxCreatedAt, s.Manifest.SavedAt, s.Manifest.SizeBytes);

    private static SandboxSnapshotInfo ToSnapshot(StoredState s) =>
        new(s.Manifest.Id, s.Manifest.Owner, s.Manifest.SandboxId, s.Manifest.Spec.ToSpec(), s.Manifest.Isolation, s.Manifest.SavedAt, s.Manifest.SizeBytes);

    private static long Mib(long bytes) => (bytes + (1 << 20) - 1) >> 20;

    private static string Shown(string id) => id.Length > 64 ? id[..64] + "..." : id;
}
