using System.Collections.Concurrent;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Services.Responses;

/// <summary>
/// Responses this gateway process is producing: a stream whose last event may reach its client before the store has
/// it (a retrieve then reads the stream's own response object), and background runs (which a cancel stops).
/// </summary>
internal sealed class ResponseRegistry
{
    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);

    internal sealed class Running(string owner, ResponsesCall call, CancellationTokenSource? cancel)
    {
        public string Owner { get; } = owner;
        public ResponsesCall Call { get; } = call;
        public CancellationTokenSource? Cancel { get; } = cancel;
        /// <summary>The background run, once started.</summary>
        public Task? Task { get; set; }

        public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => Task?.WaitAsync(timeout, ct) ?? System.Threading.Tasks.Task.CompletedTask;
    }

    public void Track(string id, string owner, ResponsesCall call) => _running[id] = new Running(owner, call, null);

    public void Untrack(string id) => _running.TryRemove(id, out _);

    public Running StartBackground(string id, string owner, ResponsesCall call, CancellationTokenSource cancel) => _running[id] = new Running(owner, call, cancel);

    public void Finish(string id) => _running.TryRemove(id, out _);

    /// <summary>The finished response object of a stream still being stored, for its owner; null otherwise.</summary>
    public byte[]? Current(string id, string owner) =>
        _running.TryGetValue(id, out var r) && r.Owner == owner && r.Cancel is null ? r.Call.Final : null;

    /// <summary>Stops the owner's background run of <paramref name="id"/>; the run, or null when none runs here.</summary>
    public Running? Cancel(string id, string owner)
    {
        if (!_running.TryGetValue(id, out var r) || r.Owner != owner || r.Cancel is not { } cancel) return null;
        try { cancel.Cancel(); }
        catch (ObjectDisposedException) { return null; } // it finished meanwhile
        return r;
    }
}
