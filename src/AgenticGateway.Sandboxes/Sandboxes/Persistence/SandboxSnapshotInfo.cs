namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>
/// A saved copy of a running sandbox's state, taken while it kept running: new sandboxes (with new ids) are forked
/// from it until it is deleted.
/// </summary>
/// <param name="Id">The snapshot's id ("snap-..."), not the sandbox's.</param>
/// <param name="SandboxId">The sandbox it was taken from (which may have ended since).</param>
/// <param name="Spec">The source sandbox's spec: a fork starts with it unless the fork request overrides it.</param>
/// <param name="Isolation">The driver that can start a sandbox from it.</param>
/// <param name="SizeBytes">Its size on disk, counted against the owner's persistence disk cap.</param>
internal sealed record SandboxSnapshotInfo(string Id, string Owner, string SandboxId, SandboxSpec Spec, string Isolation, DateTimeOffset CreatedAt, long SizeBytes);
