using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// One run in a sandbox's agent as every front starts and reads it (the REST execute, the MCP sandbox server, the
/// hosted code interpreter): the execute request, and its events read until done with a backstop behind the agent's
/// own timeout.
/// </summary>
internal static class CodeExecution
{
    /// <summary>The agent's own limit ends a run; this is the backstop should the agent stop answering.</summary>
    public static readonly TimeSpan Backstop = TimeSpan.FromSeconds(10);

    /// <summary>Starts <paramref name="code"/> in the interpreter context named <paramref name="context"/> (it must exist).</summary>
    public static AgentCall Start(Sandbox sandbox, string context, string code, TimeSpan timeout, int maxOutputBytes,
        string? cwd = null, IReadOnlyDictionary<string, string>? env = null) =>
        sandbox.Agent.Start(AgentOps.Execute, w =>
        {
            w.WriteString("context", context);
            w.WriteString("code", code);
            w.WriteNumber("timeout_ms", (long)timeout.TotalMilliseconds);
            w.WriteNumber("max_output_bytes", maxOutputBytes);
            if (cwd is not null) w.WriteString("cwd", cwd);
            if (env is not null) SandboxHttp.WriteEnv(w, env);
        });

    /// <summary>
    /// Reads a running call's events into <paramref name="onEvent"/> until it is done. The agent's refusal is thrown
    /// (<see cref="AgentException"/>); false when the agent did not finish within the timeout and the backstop (the run
    /// is cancelled). The caller's cancellation cancels the run in the sandbox (the interpreter is interrupted, the
    /// command killed) and is thrown.
    /// </summary>
    public static async Task<bool> DrainAsync(AgentCall call, TimeSpan timeout, Action<AgentEvent> onEvent, CancellationToken ct)
    {
        using var backstop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        backstop.CancelAfter(timeout + Backstop);
        using var onCancel = ct.Register(call.Cancel);
        try
        {
            await foreach (var e in call.Events.ReadAllAsync(backstop.Token))
            {
                // A cancelled call makes the agent interrupt the run and answer with an error event, which can arrive
                // before the read sees the cancellation: the caller asked to stop, so that is what it is told.
                if (e.Type == "error")
                {
                    ct.ThrowIfCancellationRequested();
                    throw AgentConnection.ToException(e);
                }
                onEvent(e);
            }
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            call.Cancel();
            return false;
        }
    }
}
