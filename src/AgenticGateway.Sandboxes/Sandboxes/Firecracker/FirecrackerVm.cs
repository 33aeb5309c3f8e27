using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Bubblewrap;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>
/// One Firecracker process (jailed or not) and its API client. Started by <see cref="LaunchAsync"/>, which returns once
/// the API socket answers; <see cref="DisposeAsync"/> kills it and removes its files.
/// </summary>
internal sealed partial class FirecrackerVm : IAsyncDisposable, Usage.IVmmProcess
{
    private const int SigKill = 9;
    private const int ExDev = 18;
    private readonly Process _process;
    private readonly string _registry;
    private readonly Action _cleanup;
    private int _pid;
    private int _disposed;

    private FirecrackerVm(Process process, VmLayout layout, string registry, Action cleanup)
    {
        _process = process;
        _pid = process.Id;
        Layout = layout;
        _registry = registry;
        _cleanup = cleanup;
        Client = new FirecrackerClient(layout.ApiSocketHost);
        Exited = process.WaitForExitAsync();
    }

    public VmLayout Layout { get; }

    /// <summary>Firecracker's own pid (under the jailer with a new pid namespace, the one the jailer wrote down).</summary>
    public int VmmPid => Volatile.Read(ref _pid);
    /// <summary>The guest's serial console (Firecracker's stdout).</summary>
    public MicroVmConsole? Console { get; private init; }
    public FirecrackerClient Client { get; }
    /// <summary>Completes when the Firecracker process has ended.</summary>
    public Task Exited { get; private set; }

    /// <summary>
    /// Starts <paramref name="command"/> (the jailer or Firecracker itself) and waits for the API socket. The pid is
    /// recorded in <paramref name="registry"/> so a later run can reap a VM this one left behind.
    /// </summary>
    public static async Task<FirecrackerVm> LaunchAsync(FirecrackerOptions options, VmLayout layout, IReadOnlyList<string> command,
        string registry, Action<string> output, Action cleanup, TimeSpan timeout, CancellationToken ct)
    {
        var process = Process.Start(MicroVmProcess.StartInfo(command[0], command.Skip(1))) ?? throw new InvalidOperationException($"cannot start {command[0]}");
        // stdout is the guest's serial console, which tenant code may flood: kept as a bounded tail, never read by lines.
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) output(line); };
        process.BeginErrorReadLine();
        var vm = new FirecrackerVm(process, layout, registry, cleanup) { Console = new MicroVmConsole(process.StandardOutput.BaseStream) };
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            if (layout.ChrootRoot is not null && options.NewPidNs)
                await vm.FollowPidFileAsync(JailerCommand.PidFile(options, layout), deadline.Token);
            HostState.RecordPid(registry, vm._pid);
            await vm.WaitForApiAsync(deadline.Token);
            return vm;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await vm.DisposeAsync();
            throw new Bubblewrap.SandboxStartException($"the Firecracker API did not come up within {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            await vm.DisposeAsync();
            throw;
        }
    }

    /// <summary>With --new-pid-ns the jailer exits after cloning Firecracker and writes its pid to a file in the chroot.</summary>
    private async Task FollowPidFileAsync(string pidFile, CancellationToken ct)
    {
        while (!(File.Exists(pidFile) && int.TryParse(await File.ReadAllTextAsync(pidFile, ct), out _pid)))
        {
            if (_process.HasExited && _process.ExitCode != 0)
                throw new Bubblewrap.SandboxStartException($"the jailer exited with code {_process.ExitCode}");
            await Task.Delay(5, ct);
        }
        Exited = WatchPidAsync(_pid);
    }

    private static async Task WatchPidAsync(int pid)
    {
        // Not our child (the jailer's), so no exit notification: poll.
        while (Directory.Exists($"/proc/{pid}")) await Task.Delay(200);
    }

    private async Task WaitForApiAsync(CancellationToken ct)
    {
        while (true)
        {
            if (Exited.IsCompleted) throw new Bubblewrap.SandboxStartException("Firecracker exited while starting");
            if (File.Exists(Layout.ApiSocketHost))
            {
                try
                {
                    await Client.DescribeInstanceAsync(ct);
                    return;
                }
                catch (HttpRequestException) { }
            }
            await Task.Delay(5, ct);
        }
    }

    /// <summary>Hard-links (or, across filesystems, copies) a host file to where the VM expects it.</summary>
    public static void LinkInto(string source, string destination)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        if (Link(source, destination) == 0) return;
        if (Marshal.GetLastPInvokeError() == ExDev) File.Copy(source, destination);
        else throw new IOException($"cannot link {source} to {destination} (errno {Marshal.GetLastPInvokeError()})");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Client.Dispose();
        if (!Exited.IsCompleted)
        {
            CgroupFs.Kill(_pid, SigKill);
            await Task.WhenAny(Exited, Task.Delay(3000));
        }
        try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
        _cleanup();
        UnixFiles.TryDeleteTree(Layout.HostDirectory);
        UnixFiles.TryDeleteTree(_registry);
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string oldPath, string newPath);
}
