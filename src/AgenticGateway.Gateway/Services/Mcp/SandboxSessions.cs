using System.Collections.Concurrent;
using System.Collections.Immutable;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// Which sandbox serves an MCP caller: one per owner and MCP session, or one per owner for clients without a session
/// (the stateless protocol). Created through <see cref="SandboxManager"/> on first use, so the owner's quotas and the
/// gateway's capacity apply as they do to the REST API (and the sandbox is listed there, with metadata
/// <c>created_by: mcp</c>); replaced when it has ended; ended with its session.
/// </summary>
internal sealed class SandboxSessions(SandboxManager manager, TimeProvider time)
{
    /// <summary>What the REST API's listing shows of a sandbox made here (never the session id: it is a client's credential).</summary>
    private static readonly ImmutableDictionary<string, string> Metadata = ImmutableDictionary<string, string>.Empty.Add("created_by", "mcp");

    private readonly ConcurrentDictionary<Binding, Slot> _slots = new();

    /// <param name="Replaced">Why the sandbox this caller had before ended, when this one replaces it (its state is gone).</param>
    public readonly record struct Lease(Sandbox? Sandbox, string? Replaced, string? Refusal);

    private readonly record struct Binding(string Owner, string? Session);

    /// <summary>One binding's sandbox; the gate makes concurrent first calls share one create.</summary>
    private sealed class Slot
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public Sandbox? Sandbox;
        /// <summary>Set (under the gate) once the slot left the dictionary: a caller that found it before must look again.</summary>
        public bool Detached;
    }

    public int Count => _slots.Count;

    /// <summary>
    /// The caller's sandbox, created if there is none or it ended, and kept alive for <paramref name="busyFor"/> (the
    /// call's own timeout) plus the default sandbox lifetime: a sandbox in use does not expire under its caller, and
    /// one left idle ends by itself.
    /// </summary>
    public async Task<Lease> AcquireAsync(string owner, string? session, TimeSpan busyFor, CancellationToken cancellationToken)
    {
        if (manager.Unavailable is { } reason) return new(null, null, $"Sandboxes are off on this gateway: {reason}.");
        var binding = new Binding(owner, session);
        while (true)
        {
            var slot = _slots.GetOrAdd(binding, _ => new Slot());
            await slot.Gate.WaitAsync(cancellationToken);
            try
            {
                if (slot.Detached) continue;
                if (slot.Sandbox is { HasEnded: false } live)
                {
                    KeepAlive(live, busyFor);
                    return new(live, null, null);
                }
                var replaced = slot.Sandbox?.EndReason;
                Prune(slot);
                var spec = new SandboxSpec { Runtime = "python", Resources = manager.Options.Defaults, Metadata = Metadata };
                var (sandbox, error) = await manager.CreateAsync(owner, spec, cancellationToken);
                if (error is not null) return new(null, null, $"No sandbox could be started: {error.Message}");
                slot.Sandbox = sandbox;
                KeepAlive(sandbox!, busyFor);
                return new(sandbox, replaced, null);
            }
            finally { slot.Gate.Release(); }
        }
    }

    /// <summary>Ends the sandbox of an MCP session (the client closed it, or it expired); false when it had none.</summary>
    public async Task<bool> EndAsync(string owner, string session, string reason)
    {
        if (!_slots.TryRemove(new Binding(owner, session), out var slot)) return false;
        await slot.Gate.WaitAsync();
        try
        {
            slot.Detached = true;
            if (slot.Sandbox is not { } sandbox) return false;
            await manager.EndAsync(sandbox, reason);
            return true;
        }
        finally { slot.Gate.Release(); }
    }

    private void KeepAlive(Sandbox sandbox, TimeSpan busyFor)
    {
        var wanted = busyFor + manager.Options.Defaults.Timeout;
        if (wanted > manager.Options.Max.Timeout) wanted = manager.Options.Max.Timeout;
        // Extend sets the expiry (within the pool's max_lifetime); it never shortens what the owner set through the REST API.
        if (time.GetUtcNow() + wanted > sandbox.ExpiresAt) manager.Extend(sandbox, wanted);
    }

    /// <summary>
    /// Drops the slots whose sandbox has ended or was never made (sessions the client never closed, owners gone idle,
    /// creates refused), so the map holds no more than the live bindings. Runs on a create, which is rare and slow
    /// anyway. A slot in use (its gate held) is left for the next time; one taken before its first caller got the gate
    /// is detached, and that caller looks again.
    /// </summary>
    private void Prune(Slot current)
    {
        foreach (var (binding, slot) in _slots)
        {
            if (slot == current || slot.Sandbox is { HasEnded: false } || !slot.Gate.Wait(0)) continue;
            try
            {
                if (slot.Sandbox is null or { HasEnded: true } && _slots.TryRemove(new KeyValuePair<Binding, Slot>(binding, slot))) slot.Detached = true;
            }
            finally { slot.Gate.Release(); }
        }
    }
}
