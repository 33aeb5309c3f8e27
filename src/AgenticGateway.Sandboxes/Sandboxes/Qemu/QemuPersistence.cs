using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Qemu;

/// <summary>
/// Pause and snapshots of QEMU microVMs with their memory: the VM is stopped and migrated to a file (RAM, devices and
/// the guest's tmpfs, which lives in its RAM; the root disk is the shared read-only image), the same path the
/// snapshot templates take. A resume is a new QEMU of the same shape started with <c>-incoming</c> from that file: the
/// guest's processes, interpreters and files go on where they were.
/// </summary>
internal sealed partial class QemuDriver : ISandboxPersistence
{
    public const string StateFile = "vm.state";
    /// <summary>Migration without the default cap of 128 MiB/s: the VM is stopped meanwhile, so faster is shorter.</summary>
    private const string Unthrottled = """{"max-bandwidth":107374182400}""";
    private const string MigrateShared = """{"capabilities":[{"capability":"x-ignore-shared","state":false}]}""";

    public async Task<IReadOnlyDictionary<string, string>> SaveAsync(ISandboxInstance instance, SandboxResources resources, string directory, bool keepRunning, CancellationToken cancellationToken)
    {
        if (instance is not MicroVmInstance { Vm: QemuVm vm }) throw new InvalidOperationException("not a QEMU sandbox");
        var file = Path.Join(directory, StateFile);
        var watch = Stopwatch.StartNew();
        // Nothing of ours half-written into the agent port when the VM stops: a request answered just before.
        await instance.Agent.CallAsync(AgentOps.Ping, null, cancellationToken);
        using var qmp = await QmpClient.ConnectAsync(vm.QmpSocket, cancellationToken);
        var stopped = false;
        var saved = false;
        try
        {
            await qmp.ExecuteAsync("stop", null, cancellationToken);
            stopped = true;
            // A clone's RAM maps the template's file privately: all of it goes into the state (the template may be
            // gone by the time this resumes), whatever capability its own incoming migration set.
            await qmp.ExecuteAsync("migrate-set-capabilities", MigrateShared, cancellationToken);
            await qmp.ExecuteAsync("migrate-set-parameters", Unthrottled, cancellationToken);
            await qmp.ExecuteAsync("migrate", $$"""{"uri":"exec:cat > {{ShellQuote(file)}}"}""", cancellationToken);
            await WaitForMigrationAsync(qmp, cancellationToken);
            saved = true;
        }
        finally
        {
            // A snapshot (or a pause that failed) goes on running: "cont" also reactivates the disks the migration released.
            if (stopped && (keepRunning || !saved))
            {
                try { await qmp.ExecuteAsync("cont", null, CancellationToken.None); }
                catch (Exception ex) when (ex is IOException or QmpException or SocketException) { }
            }
        }
        MicroVmLog.Saved(_logger, "QEMU", new FileInfo(file).Length, watch.Elapsed.TotalMilliseconds);
        return new Dictionary<string, string>
        {
            ["vcpus"] = vm.Size.Vcpus.ToString(CultureInfo.InvariantCulture),
            ["memory_mb"] = vm.Size.MemoryMb.ToString(CultureInfo.InvariantCulture),
            ["disk_mb"] = vm.Size.DiskMb.ToString(CultureInfo.InvariantCulture),
            ["memory_backend"] = vm.MemoryBackend ? "ram" : "machine",
            ["root"] = _options.Root.ToString(),
        };
    }

    public async Task<ISandboxInstance> RestoreAsync(SandboxLaunch launch, string directory, SnapshotManifest manifest, CancellationToken cancellationToken)
    {
        if (Unavailable is not null) throw new SandboxStartException(Unavailable);
        if (manifest.Image != _imageVersion)
            throw new SandboxStartException($"it was saved on guest image {manifest.Image ?? "(none)"} and this gateway runs {_imageVersion ?? "(none)"}");
        if (manifest.Driver.GetValueOrDefault("root") != _options.Root.ToString())
            throw new SandboxStartException($"it was saved with sandboxes.qemu.root {manifest.Driver.GetValueOrDefault("root")} and this gateway uses {_options.Root}");
        if (!int.TryParse(manifest.Driver.GetValueOrDefault("vcpus"), CultureInfo.InvariantCulture, out var vcpus)
            || !int.TryParse(manifest.Driver.GetValueOrDefault("memory_mb"), CultureInfo.InvariantCulture, out var memoryMb)
            || !int.TryParse(manifest.Driver.GetValueOrDefault("disk_mb"), CultureInfo.InvariantCulture, out var diskMb))
            throw new SandboxStartException("its manifest does not say the VM's size");
        var timeout = _kvm ? launch.BootTimeout : MinimumTcgBootTimeout;
        var watch = Stopwatch.StartNew();
        QemuVm? vm = null;
        AgentConnection? agent = null;
        try
        {
            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(timeout);
            vm = Launch(launch.Id, (vcpus, memoryMb, diskMb), memory: null, clone: false, restore: true, ramBackend: manifest.Driver.GetValueOrDefault("memory_backend") == "ram");
            // Connected before the guest runs (as clones are): the saved guest had the port open.
            agent = await ConnectAgentAsync(vm, boot.Token, firstId: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
            using var qmp = await QmpClient.ConnectAsync(vm.QmpSocket, boot.Token);
            await qmp.ExecuteAsync("migrate-incoming", $$"""{"uri":"exec:cat {{ShellQuote(Path.Join(directory, StateFile))}}"}""", boot.Token);
            while ((await qmp.ExecuteAsync("query-status", null, boot.Token)).GetProperty("status").GetString() == "inmigrate")
                await Task.Delay(10, boot.Token);
            await qmp.ExecuteAsync("cont", null, boot.Token);
            await PingAsync(agent, boot.Token);
            // The host's clock (the guest's stopped when it was saved) and, for forks, randomness of its own.
            await MicroVmGuest.ResumeAsync(agent, boot.Token);
            MicroVmLog.Started(_logger, "QEMU", launch.Id, "saved state", watch.Elapsed.TotalMilliseconds);
            return new MicroVmInstance(vm, vm.Exited, agent, Name, _imageVersion);
        }
        catch (Exception ex)
        {
            if (await StartFailedAsync(ex, agent, vm, launch.Id, cancellationToken, $"did not resume within {timeout.TotalSeconds:0.#} s", "could not be resumed") is { } failure) throw failure;
            throw;
        }
    }

    /// <summary>
    /// The first answer may be lost: the guest may have been saved halfway through writing an event of the earlier
    /// connection, whose rest arrives first and spoils the line it runs into. A ping that gets no answer is repeated.
    /// </summary>
    private static async Task PingAsync(AgentConnection agent, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var once = CancellationTokenSource.CreateLinkedTokenSource(ct);
            once.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                await agent.CallAsync(AgentOps.Ping, null, once.Token);
                return;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested && attempt < 3) { }
        }
    }

    private static async Task WaitForMigrationAsync(QmpClient qmp, CancellationToken ct)
    {
        while (true)
        {
            var status = await qmp.ExecuteAsync("query-migrate", null, ct);
            var state = status.TryGetProperty("status", out var s) ? s.GetString() : null;
            if (state == "completed") return;
            if (state is "failed" or "cancelled")
                throw new QmpException($"migration {state}{(status.TryGetProperty("error-desc", out var d) ? ": " + d.GetString() : "")}");
            await Task.Delay(20, ct);
        }
    }

    /// <summary>A path for QEMU's <c>exec:</c> (run by /bin/sh), single-quoted, inside a JSON string.</summary>
    private static string ShellQuote(string path) =>
        System.Text.Json.JsonEncodedText.Encode("'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'").ToString();
}
