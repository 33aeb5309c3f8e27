using System.Diagnostics;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// One running microVM sandbox, whatever the VMM (Firecracker, QEMU): the VM and the agent connection into it.
/// </summary>
/// <param name="vm">The VM; disposing it kills the VMM and removes its files.</param>
/// <param name="vmExited">Completes when the VMM process ends.</param>
/// <param name="isolation">The driver's name.</param>
/// <param name="image">The guest image's version.</param>
internal sealed class MicroVmInstance(IAsyncDisposable vm, Task vmExited, AgentConnection agent, string isolation, string? image) : ISandboxInstance, Usage.IUsageSource
{
    private int _disposed;

    public string Isolation => isolation;

    /// <summary>The VM itself (its driver's type), for the driver that saves its state.</summary>
    public IAsyncDisposable Vm => vm;

    public string? Image => image;

    public AgentConnection Agent { get; } = agent;

    /// <summary>The VM ended, or its agent did (the sandbox is of no use without it).</summary>
    public Task Exited { get; } = Task.WhenAny(vmExited, agent.Closed);

    public string? EndReason => null;

    public bool TemplateInImage { get; init; }

    public Usage.IUsageProbe? OpenUsageProbe() =>
        Volatile.Read(ref _disposed) == 0 && !Exited.IsCompleted && vm is Usage.IVmmProcess vmm ? Usage.VmmUsage.Open(vmm.VmmPid) : null;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        // Nothing in the VM outlives it, so there is no graceful shutdown to wait for: close the agent, kill the VMM.
        await Agent.DisposeAsync();
        await vm.DisposeAsync();
    }
}

/// <summary>What both microVM drivers do to a VM restored from a snapshot before handing it out.</summary>
internal static class MicroVmGuest
{
    /// <summary>
    /// Clones of one snapshot resume with the template's RNG state and clock: the agent's <c>guest.resume</c> mixes
    /// fresh host bytes in (forcing a reseed) and sets the clock to the host's, without starting a process.
    /// </summary>
    public static Task ResumeAsync(AgentConnection agent, CancellationToken ct) =>
        agent.CallAsync(AgentOps.GuestResume, w =>
        {
            w.WriteNumber("time_ns", (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100);
            w.WriteString("seed", Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(64)));
        }, ct);
}

/// <summary>How both microVM drivers start their VMM (QEMU, Firecracker, the jailer).</summary>
internal static class MicroVmProcess
{
    /// <summary>
    /// Stdio redirected, and an environment of PATH alone (QEMU's <c>exec:</c> migrations run commands through
    /// /bin/sh): the gateway's own environment (master key, provider keys, database URL) has no business in a process
    /// that a guest breaking out of its VM would own.
    /// </summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.Environment.Clear();
        info.Environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
        return info;
    }
}

/// <summary>The microVM drivers' log messages (event ids 120-129), naming the VMM.</summary>
internal static partial class MicroVmLog
{
    [LoggerMessage(126, LogLevel.Debug, "{Vmm} microVM state saved: {Bytes} bytes in {Milliseconds:F0} ms")]
    public static partial void Saved(ILogger logger, string vmm, long bytes, double milliseconds);

    [LoggerMessage(120, LogLevel.Debug, "Sandbox {Id} {Vmm} microVM ready from {Source} in {Milliseconds:F1} ms")]
    public static partial void Started(ILogger logger, string vmm, string id, string source, double milliseconds);

    [LoggerMessage(121, LogLevel.Debug, "Sandbox {Id} {Vmm}: {Line}")]
    public static partial void Vmm(ILogger logger, string vmm, string id, string line);

    [LoggerMessage(122, LogLevel.Information, "{Vmm} snapshot template {Vcpus} vCPU / {MemoryMib} MiB ready in {Milliseconds:F0} ms")]
    public static partial void TemplateReady(ILogger logger, string vmm, int vcpus, int memoryMib, double milliseconds);

    [LoggerMessage(124, LogLevel.Warning, "Sandbox {Id} {Vmm} microVM failed; its console ended with:\n{Console}")]
    public static partial void Console(ILogger logger, string vmm, string id, string console);

    [LoggerMessage(123, LogLevel.Warning, "{Vmm} snapshot template {Vcpus} vCPU / {MemoryMib} MiB failed, booting each VM instead: {Message}")]
    public static partial void TemplateFailed(ILogger logger, string vmm, int vcpus, int memoryMib, string message);
}
