using System.Net;
using AgenticGateway.Sandboxes.Firecracker;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>
/// The client and the driver's request sequences against a fake Firecracker API on a Unix socket: every body sent is
/// checked against the Firecracker OpenAPI document (Fixtures/firecracker/firecracker-api.yaml).
/// </summary>
[Trait("Category", "functional")]
public class FirecrackerClientTests
{
    private static readonly VmPlan FullPlan = new()
    {
        Vcpus = 2,
        MemoryMib = 1024,
        Kernel = "/vmlinux",
        Initrd = "/initrd.img",
        BootArgs = "console=ttyS0 reboot=k panic=1 pci=off agw.transport=vsock:1024",
        Rootfs = "/rootfs.ext4",
        VsockUds = "/vsock.sock",
        BalloonMib = 0,
        TapDevice = "fc-tap0",
        GuestMac = "06:00:AC:10:00:02",
        Metadata = w => { w.WriteString("sandbox_id", "sb-1"); w.WriteStartObject("limits"); w.WriteNumber("memory_mb", 512); w.WriteEndObject(); },
        LogPath = "/firecracker.log",
        MetricsPath = "/metrics.fifo",
    };

    private static void AssertValid(IEnumerable<RecordedRequest> requests)
    {
        foreach (var r in requests)
        {
            var errors = SwaggerSchema.Firecracker.ValidateRequest(r.Method, r.Path, r.Body);
            Assert.True(errors.Count == 0, $"{r.Method} {r.Path} {r.Body}:\n{string.Join("\n", errors)}");
            if (r.Method != "GET")
            {
                Assert.Equal("application/json", r.ContentType);
                Assert.False(r.Chunked, "Firecracker's HTTP server needs a Content-Length, not chunked bodies");
                Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(r.Body), r.ContentLength);
            }
        }
    }

    [Fact]
    public async Task Boot_sequence_sends_every_device_in_order_with_bodies_valid_per_the_document()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await VmRequests.BootAsync(client, FullPlan, default);

        Assert.Equal(
            [
                "PUT /logger", "PUT /metrics", "PUT /machine-config", "PUT /boot-source", "PUT /drives/rootfs",
                "PUT /network-interfaces/eth0", "PUT /mmds/config", "PUT /mmds", "PUT /vsock", "PUT /entropy", "PUT /balloon",
                "PUT /actions",
            ],
            api.Requests.Select(r => $"{r.Method} {r.Path}"));
        AssertValid(api.Requests);
        var byPath = api.Requests.ToDictionary(r => r.Path, r => r.Body);
        Assert.Equal("""{"vcpu_count":2,"mem_size_mib":1024,"smt":false}""", byPath["/machine-config"]);
        Assert.Equal("""{"kernel_image_path":"/vmlinux","boot_args":"console=ttyS0 reboot=k panic=1 pci=off agw.transport=vsock:1024","initrd_path":"/initrd.img"}""", byPath["/boot-source"]);
        Assert.Equal("""{"drive_id":"rootfs","is_root_device":true,"path_on_host":"/rootfs.ext4","is_read_only":true}""", byPath["/drives/rootfs"]);
        Assert.Equal("""{"guest_cid":3,"uds_path":"/vsock.sock"}""", byPath["/vsock"]);
        Assert.Equal("""{"network_interfaces":["eth0"],"version":"V2"}""", byPath["/mmds/config"]);
        Assert.Equal("""{"sandbox_id":"sb-1","limits":{"memory_mb":512}}""", byPath["/mmds"]);
        Assert.Equal("""{"action_type":"InstanceStart"}""", byPath["/actions"]);
    }

    [Fact]
    public async Task A_minimal_boot_has_no_network_mmds_balloon_logger_or_metrics()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await VmRequests.BootAsync(client, FullPlan with { TapDevice = null, Metadata = null, BalloonMib = null, LogPath = null, MetricsPath = null }, default);
        Assert.Equal(
            ["/machine-config", "/boot-source", "/drives/rootfs", "/vsock", "/entropy", "/actions"],
            api.Requests.Select(r => r.Path));
        AssertValid(api.Requests);
    }

    [Fact]
    public async Task Snapshot_create_pauses_then_writes_a_full_snapshot()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await VmRequests.SnapshotAsync(client, "/vm.state", "/vm.mem", default);
        Assert.Equal(["PATCH /vm", "PUT /snapshot/create"], api.Requests.Select(r => $"{r.Method} {r.Path}"));
        AssertValid(api.Requests);
        Assert.Equal("""{"state":"Paused"}""", api.Requests[0].Body);
        Assert.Equal("""{"snapshot_path":"/vm.state","mem_file_path":"/vm.mem","snapshot_type":"Full"}""", api.Requests[1].Body);
    }

    [Fact]
    public async Task A_snapshot_of_a_running_sandbox_pauses_writes_and_resumes_it()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await VmRequests.SnapshotAndResumeAsync(client, "/vm.state", "/vm.mem", default);
        Assert.Equal(["PATCH /vm", "PUT /snapshot/create", "PATCH /vm"], api.Requests.Select(r => $"{r.Method} {r.Path}"));
        AssertValid(api.Requests);
        Assert.Equal("""{"state":"Paused"}""", api.Requests[0].Body);
        Assert.Equal("""{"state":"Resumed"}""", api.Requests[2].Body);
    }

    [Fact]
    public async Task Snapshot_load_uses_a_file_memory_backend_and_resumes_the_vm()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await VmRequests.RestoreAsync(client, "/vm.state", "/vm.mem", "/run/clone-1/vsock.sock", "/firecracker.log", default);
        await VmRequests.RestoreAsync(client, "/vm.state", "/vm.mem", vsockOverride: null, logPath: null, default);
        Assert.Equal(["PUT /logger", "PUT /snapshot/load", "PUT /snapshot/load"], api.Requests.Select(r => $"{r.Method} {r.Path}"));
        AssertValid(api.Requests);
        Assert.Equal(
            """{"snapshot_path":"/vm.state","mem_backend":{"backend_type":"File","backend_path":"/vm.mem"},"resume_vm":true,"vsock_override":{"uds_path":"/run/clone-1/vsock.sock"}}""",
            api.Requests[1].Body);
        Assert.DoesNotContain("mem_file_path", api.Requests[2].Body);
    }

    [Fact]
    public async Task Runtime_operations_send_valid_bodies()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        await client.PatchBalloonAsync(new BalloonUpdate(256), default);
        await client.PatchMmdsAsync(w => w.WriteString("seed", "abc"), default);
        await client.ActionAsync(InstanceActionInfo.FlushMetrics, default);
        await client.ActionAsync(InstanceActionInfo.SendCtrlAltDel, default);
        await client.PatchVmAsync(Vm.Resumed, default);
        await client.PutBalloonAsync(new Balloon(64, DeflateOnOom: true) { StatsPollingIntervalS = 1 }, default);
        await client.PutDriveAsync(new Drive("scratch", IsRootDevice: false, "/scratch.ext4", IsReadOnly: false) { CacheType = "Writeback", IoEngine = "Async" }, default);
        await client.PutMachineConfigAsync(new MachineConfiguration(1, 128) { TrackDirtyPages = true, HugePages = "None" }, default);
        await client.PutLoggerAsync(new LoggerSettings("/log") { Level = "Debug", ShowLevel = true, ShowLogOrigin = false }, default);
        Assert.Equal(9, api.Requests.Count);
        AssertValid(api.Requests);
    }

    [Fact]
    public async Task Describe_instance_reads_the_state()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        using var client = new FirecrackerClient(api.SocketPath);
        var info = await client.DescribeInstanceAsync(default);
        Assert.Equal("Not started", info.State);
        Assert.Equal("fake-vm", info.Id);
    }

    [Fact]
    public async Task A_fault_message_becomes_a_typed_exception()
    {
        await using var api = await FakeFirecrackerApi.StartAsync();
        api.Faults["/boot-source"] = "Invalid kernel path: No such file or directory (os error 2)";
        using var client = new FirecrackerClient(api.SocketPath);
        var ex = await Assert.ThrowsAsync<FirecrackerApiException>(() => client.PutBootSourceAsync(new BootSource("/missing"), default));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Equal("Invalid kernel path: No such file or directory (os error 2)", ex.FaultMessage);
        Assert.Equal("PUT /boot-source", ex.Operation);
    }

    [Fact]
    public async Task A_missing_socket_fails_with_a_connection_error()
    {
        using var client = new FirecrackerClient(Path.Combine(Path.GetTempPath(), $"agw-none-{Guid.NewGuid():N}.sock"), TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<HttpRequestException>(() => client.DescribeInstanceAsync(default));
    }
}
