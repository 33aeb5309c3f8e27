using System.Collections.Concurrent;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>A sandbox in use: who owns it, what it was created with, until when it lives, and its running instance.</summary>
internal sealed class Sandbox(string id, string owner, SandboxSpec spec, ISandboxInstance instance, DateTimeOffset createdAt, DateTimeOffset expiresAt)
{
    private readonly ConcurrentDictionary<string, byte> _contexts = new(StringComparer.Ordinal);
    private long _expiresAtTicks = expiresAt.UtcTicks;
    private string? _endReason;

    public string Id { get; } = id;
    public string Owner { get; } = owner;
    public SandboxSpec Spec { get; } = spec;
    public string Runtime => Spec.Runtime;
    public ISandboxInstance Instance { get; } = instance;
    public AgentConnection Agent => Instance.Agent;
    public DateTimeOffset CreatedAt { get; } = createdAt;

    public DateTimeOffset ExpiresAt
    {
        get => new(Interlocked.Read(ref _expiresAtTicks), TimeSpan.Zero);
        set => Interlocked.Exchange(ref _expiresAtTicks, value.UtcTicks);
    }

    /// <summary>Background commands' output, kept (bounded) for whoever asks later.</summary>
    public ConcurrentDictionary<long, ProcessRecord> Processes { get; } = new();

    private int _saving;
    private volatile bool _pausing;

    /// <summary>A pause or snapshot is writing its state: another must wait, and expiry waits for it.</summary>
    public bool IsSaving => Volatile.Read(ref _saving) == 1;

    /// <summary>Being paused: no longer found by its owner (calls would change files the pause no longer keeps).</summary>
    public bool IsPausing => _pausing;

    /// <summary>True for the one caller that may save its state now.</summary>
    public bool TryBeginSave(bool pause)
    {
        if (Interlocked.CompareExchange(ref _saving, 1, 0) != 0) return false;
        _pausing = pause;
        return true;
    }

    public void EndSave()
    {
        _pausing = false;
        Volatile.Write(ref _saving, 0);
    }

    public bool HasEnded => _endReason is not null;
    public string? EndReason => _endReason;

    /// <summary>Marks the sandbox ended; true for the one caller that gets to tear it down.</summary>
    public bool TryEnd(string reason) => Interlocked.CompareExchange(ref _endReason, reason, null) is null;

    /// <summary>The interpreter context of a language: created on first use (the runtime's own is created at start).</summary>
    public async Task EnsureContextAsync(string language, CancellationToken cancellationToken)
    {
        if (_contexts.ContainsKey(language)) return;
        try
        {
            await Agent.CallAsync(AgentOps.ContextCreate, w => { w.WriteString("context", language); w.WriteString("language", language); }, cancellationToken);
        }
        catch (AgentException ex) when (ex.Code == AgentErrors.Exists) { }
        _contexts.TryAdd(language, 0);
    }

    public void ContextKnown(string name) => _contexts.TryAdd(name, 0);
    public void ContextForgotten(string name) => _contexts.TryRemove(name, out _);
}

/// <summary>A command started through the API: its pid, and for background commands the tail of its output.</summary>
internal sealed class ProcessRecord(long pid, string command, AgentCall call)
{
    private const int KeepBytes = 64 * 1024;
    private readonly System.Text.StringBuilder _stdout = new();
    private readonly System.Text.StringBuilder _stderr = new();
    private readonly Lock _gate = new();

    public long Pid { get; } = pid;
    public string Command { get; } = command;
    public AgentCall Call { get; } = call;
    public int? ExitCode { get; private set; }
    public string? Signal { get; private set; }

    public void Append(bool stderr, string data)
    {
        lock (_gate)
        {
            var sb = stderr ? _stderr : _stdout;
            sb.Append(data);
            if (sb.Length > KeepBytes) sb.Remove(0, sb.Length - KeepBytes);
        }
    }

    public void Finished(int? exitCode, string? signal) { ExitCode = exitCode; Signal = signal; }

    public (string Stdout, string Stderr) Output()
    {
        lock (_gate) return (_stdout.ToString(), _stderr.ToString());
    }
}
