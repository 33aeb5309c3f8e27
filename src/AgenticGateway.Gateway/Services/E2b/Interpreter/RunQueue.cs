using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.E2b.Interpreter;

/// <summary>
/// One run at a time per interpreter context, the others waiting their turn, as E2B's code interpreter queues them:
/// an agent making parallel tool calls sends several <c>runCode</c> to one context and expects each to run, in turn,
/// not a 409. The queues live as long as their sandbox object (a weak table), so nothing is kept for ended sandboxes.
/// </summary>
internal static class RunQueue
{
    private static readonly ConditionalWeakTable<Sandbox, ConcurrentDictionary<string, SemaphoreSlim>> Queues = [];

    /// <summary>Turnstiles kept per sandbox at most: context ids come from the request, and a sandbox has few contexts.</summary>
    private const int MaxContexts = 64;

    /// <summary>
    /// The turnstile of one context of one sandbox; null when the sandbox already has <see cref="MaxContexts"/> (the
    /// run then goes without one: the agent still refuses a second run at once, and the caller retries).
    /// </summary>
    public static SemaphoreSlim? For(Sandbox sandbox, string context)
    {
        var queues = Queues.GetValue(sandbox, static _ => new ConcurrentDictionary<string, SemaphoreSlim>(StringComparer.Ordinal));
        if (queues.TryGetValue(context, out var turn)) return turn;
        return queues.Count >= MaxContexts ? null : queues.GetOrAdd(context, static _ => new SemaphoreSlim(1, 1));
    }

    /// <summary>Drops a removed context's turnstile (a run still waiting on it finishes with its refusal).</summary>
    public static void Forget(Sandbox sandbox, string context)
    {
        if (Queues.TryGetValue(sandbox, out var queues)) queues.TryRemove(context, out _);
    }

    /// <summary>
    /// Waits for a busy context to finish the run before: a run whose client went away is interrupted, which takes a
    /// moment, and a run through the native API shares the context. From 50 ms doubling to half a second.
    /// </summary>
    public static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(500, 50 << Math.Min(attempt, 4)));
}
