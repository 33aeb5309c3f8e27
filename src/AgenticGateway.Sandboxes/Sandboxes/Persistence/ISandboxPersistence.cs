namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>
/// What a driver that can pause offers (chosen by the driver's name, like the driver itself): write a running
/// sandbox's state as files in a directory, and start a sandbox from such a directory. Checksums, manifests, caps and
/// ownership are the manager's (<see cref="SnapshotStore"/>), so a driver only moves state.
/// </summary>
internal interface ISandboxPersistence
{
    /// <summary>
    /// Writes <paramref name="instance"/>'s state (it runs with <paramref name="resources"/>) into <paramref name="directory"/> (empty, private) as plain files.
    /// With <paramref name="keepRunning"/> (a snapshot) the sandbox goes on afterwards; without (a pause) the manager
    /// ends it right after. Returns what <see cref="RestoreAsync"/> will need besides the files (kept in the manifest).
    /// </summary>
    Task<IReadOnlyDictionary<string, string>> SaveAsync(ISandboxInstance instance, SandboxResources resources, string directory, bool keepRunning, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a sandbox with <paramref name="launch"/>'s id from a state <see cref="SaveAsync"/> wrote (its files
    /// already verified). Throws <see cref="Bubblewrap.SandboxStartException"/> with the reason when it cannot.
    /// </summary>
    Task<ISandboxInstance> RestoreAsync(SandboxLaunch launch, string directory, SnapshotManifest manifest, CancellationToken cancellationToken);
}
