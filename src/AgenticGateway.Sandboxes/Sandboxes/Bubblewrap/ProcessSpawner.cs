using System.Collections.Concurrent;
using System.Diagnostics;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// Starts sandbox processes from one thread that lives as long as the gateway. bwrap's --die-with-parent uses
/// PR_SET_PDEATHSIG, which fires when the *thread* that forked the child exits, not the process: started from a
/// thread-pool thread, a sandbox would be killed whenever the pool retired that thread.
/// </summary>
internal sealed class ProcessSpawner : IDisposable
{
    private readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Result)> _requests = new();
    private readonly Thread _thread;

    public ProcessSpawner()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "sandbox-spawner" };
        _thread.Start();
    }

    public Task<Process> StartAsync(ProcessStartInfo info)
    {
        var result = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        try { _requests.Add((info, result)); }
        catch (InvalidOperationException) { result.SetException(new ObjectDisposedException(nameof(ProcessSpawner))); }
        return result.Task;
    }

    private void Run()
    {
        foreach (var (info, result) in _requests.GetConsumingEnumerable())
        {
            try { result.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start")); }
            catch (Exception ex) { result.SetException(ex); }
        }
    }

    // The thread is left running: sandboxes started from it must outlive this object until the process exits.
    public void Dispose() => _requests.CompleteAdding();
}
