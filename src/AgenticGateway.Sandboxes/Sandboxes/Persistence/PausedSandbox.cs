namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>
/// A sandbox stopped with its state on disk under its own id: its files (bubblewrap) or its memory and devices
/// (microVMs). It runs no process and costs no sandbox-seconds until it is resumed.
/// </summary>
/// <param name="Id">The sandbox's id, the same before and after the pause.</param>
/// <param name="Spec">What it was created with (resume starts it the same way, with a new timeout).</param>
/// <param name="Isolation">The driver that ran it and will resume it.</param>
/// <param name="CreatedAt">When the sandbox was first created (before any pause).</param>
/// <param name="PausedAt">When its state was saved.</param>
/// <param name="SizeBytes">The state's size on disk, counted against the owner's persistence disk cap.</param>
internal sealed record PausedSandbox(string Id, string Owner, SandboxSpec Spec, string Isolation, DateTimeOffset CreatedAt, DateTimeOffset PausedAt, long SizeBytes);
