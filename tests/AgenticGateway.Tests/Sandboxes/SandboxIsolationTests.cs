using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>Escape and abuse attempts, each contained with a clear result.</summary>
[Trait("Category", "sandbox")]
public class SandboxIsolationTests(SandboxGatewayFixture fixture) : IClassFixture<SandboxGatewayFixture>
{
    private SandboxGateway G => fixture.Gateway;

    [Fact]
    public async Task Host_files_outside_the_sandbox_cannot_be_read()
    {
        var secret = Path.Combine(Path.GetTempPath(), "agw-host-secret-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(secret, "host secret");
        try
        {
            var id = await G.CreateAsync();
            var r = await G.ExecAsync(id, $$"""
                import os
                found = []
                for p in [{{JsonSerializer.Serialize(secret)}}, '/etc/shadow', '/root', '/proc/1/root/etc/shadow', '/work', '/run/agentic-gateway']:
                    found.append((p, os.path.exists(p)))
                print(found)
                open({{JsonSerializer.Serialize(secret)}}).read()
                """);
            Assert.Equal("FileNotFoundError", r.GetProperty("error").GetProperty("name").GetString());
            Assert.DoesNotContain("True", r.GetProperty("stdout").GetString());
        }
        finally { File.Delete(secret); }
    }

    [Fact]
    public async Task The_system_is_read_only_and_home_is_writable()
    {
        var id = await G.CreateAsync("""{"runtime":"bash"}""");
        var r = await G.RunAsync(id, "touch /usr/evil; echo usr=$?; touch /etc/evil; echo etc=$?; touch ~/fine && echo home=ok; id -u");
        var output = r.GetProperty("stdout").GetString()!;
        Assert.Contains("usr=1", output);
        Assert.Contains("etc=1", output);
        Assert.Contains("home=ok", output);
        Assert.Contains("Read-only file system", r.GetProperty("stderr").GetString());
        Assert.False(File.Exists("/usr/evil"));
    }

    [Fact]
    public async Task Every_process_runs_under_the_sandboxs_resource_limits()
    {
        // 64 MiB of disk (file size), 100 s at 2 CPUs (CPU seconds: lifetime x CPUs + 5), 4096 open files, no core dumps;
        // soft and hard alike, so that nothing in the sandbox can raise them again.
        var id = await G.CreateAsync("""{"runtime":"bash","disk_mb":64,"timeout":100,"cpu":2}""");
        var r = await G.RunAsync(id, "grep -E '^Max (cpu time|file size|core file size|open files)' /proc/self/limits | tr -s ' '");
        var limits = r.GetProperty("stdout").GetString()!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            ["Max cpu time 205 205 seconds", "Max file size 67108864 67108864 bytes", "Max core file size 0 0 bytes", "Max open files 4096 4096 files"],
            limits.Select(l => l.Trim()).ToArray());
    }

    [Fact]
    public async Task A_host_loopback_listener_is_unreachable()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptTcpClientAsync();
        var id = await G.CreateAsync();
        var r = await G.ExecAsync(id, $"""
            import socket
            for host in ['127.0.0.1', '10.0.2.2', '169.254.169.254']:
                try:
                    socket.create_connection((host, {port}), timeout=1)
                    print('connected', host)
                except OSError as e:
                    print('refused', host, type(e).__name__)
            """);
        Assert.DoesNotContain("connected", r.GetProperty("stdout").GetString());
        Assert.False(accepted.IsCompleted);
        var ifaces = await G.RunAsync(id, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
        Assert.Equal("lo\n", ifaces.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task A_fork_bomb_is_held_and_the_sandbox_stays_usable()
    {
        var id = await G.CreateAsync("""{"runtime":"bash"}""");
        var bomb = await G.ExecAsync(id, "bomb() { bomb | bomb & }; bomb; sleep 30", "\"language\":\"bash\",\"timeout\":3");
        Assert.True(bomb.GetProperty("timed_out").GetBoolean(), bomb.ToString());
        // The interrupted context was restarted with its process group gone; the sandbox works again.
        var after = await G.ExecAsync(id, "echo alive; ps -e --no-headers | wc -l", "\"language\":\"bash\"");
        var lines = after.GetProperty("stdout").GetString()!.Split('\n');
        Assert.Equal("alive", lines[0]);
        Assert.InRange(int.Parse(lines[1]), 1, 20);
    }

    [Fact]
    public async Task The_process_limit_refuses_new_processes_with_a_clear_error()
    {
        var id = await G.CreateAsync("""{"runtime":"python"}""");
        var r = await G.ExecAsync(id, """
            import subprocess
            procs = []
            try:
                for _ in range(1000): procs.append(subprocess.Popen(['sleep', '60']))
            except OSError as e:
                print('refused after', len(procs), type(e).__name__)
            """, "\"timeout\":30");
        Assert.Matches(@"^refused after \d+ BlockingIOError", r.GetProperty("stdout").GetString());
        Assert.InRange(int.Parse(r.GetProperty("stdout").GetString()!.Split(' ')[2]), 100, 256);
        var (status, body) = await G.PostAsync($"/v1/sandboxes/{id}/commands", """{"cmd":"true"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("sandbox_process_limit", body.GetProperty("error").GetProperty("code").GetString());
        await G.PostAsync($"/v1/sandboxes/{id}/contexts/python/restart", "{}");
        Assert.Equal(0, (await G.RunAsync(id, "true")).GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task A_memory_bomb_is_killed_with_a_clear_error_and_the_context_restarts()
    {
        var id = await G.CreateAsync("""{"runtime":"python","memory_mb":128,"disk_mb":64}""");
        var r = await G.ExecAsync(id, "blocks = []\nwhile True: blocks.append(bytearray(16 << 20))");
        Assert.True(r.GetProperty("context_restarted").GetBoolean(), r.ToString());
        Assert.Contains("SIGKILL", r.GetProperty("error").ToString());
        Assert.Equal("3\n", (await G.ExecAsync(id, "print(1 + 2)")).GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Filling_dev_shm_gives_ENOSPC_at_the_disk_cap_and_the_rest_of_dev_is_read_only()
    {
        // 8 x 24 MiB is past the memory cgroup (128 + 32 MiB): without a cap of its own, filling /dev/shm or /dev would
        // get the sandbox OOM-killed. Files of 24 MiB stay under the per-file size limit (disk_mb).
        var id = await G.CreateAsync("""{"runtime":"python","memory_mb":128,"disk_mb":32}""");
        const string fill = "for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of={0}/f$i bs=1M count=24 status=none; done";
        var shm = await G.RunAsync(id, string.Format(fill, "/dev/shm") + "; du -sm /dev/shm", "\"timeout\":60");
        Assert.Contains("No space left on device", shm.GetProperty("stderr").GetString());
        Assert.Equal("32\t/dev/shm\n", shm.GetProperty("stdout").GetString());
        var dev = await G.RunAsync(id, string.Format(fill, "/dev") + "; echo to-null > /dev/null && echo null=ok", "\"timeout\":60");
        Assert.Contains("'/dev/f1': Read-only file system", dev.GetProperty("stderr").GetString());
        Assert.Equal("null=ok\n", dev.GetProperty("stdout").GetString());
        // The sandbox lives on, and shared memory works in what is left.
        await G.RunAsync(id, "rm /dev/shm/f*");
        var after = await G.ExecAsync(id, "from multiprocessing import shared_memory\nm = shared_memory.SharedMemory(create=True, size=1 << 20)\nm.buf[0] = 7\nprint(m.buf[0])\nm.close(); m.unlink()");
        Assert.Equal("7\n", after.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task An_infinite_loop_is_stopped_by_the_execute_timeout()
    {
        var id = await G.CreateAsync("""{"runtime":"node"}""");
        var started = DateTime.UtcNow;
        var r = await G.ExecAsync(id, "while (true) {}", "\"timeout\":1");
        Assert.True(r.GetProperty("timed_out").GetBoolean());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(8));
        var c = await G.RunAsync(id, "while :; do :; done", "\"timeout\":1");
        Assert.True(c.GetProperty("timed_out").GetBoolean());
    }

    [Fact]
    public async Task A_hundred_megabytes_of_output_is_truncated_not_buffered()
    {
        var id = await G.CreateAsync();
        var r = await G.ExecAsync(id, "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100): sys.stdout.write(chunk)\nsys.stdout.flush()\n'finished'", "\"timeout\":60");
        Assert.True(r.GetProperty("truncated").GetBoolean());
        Assert.InRange(r.GetProperty("stdout").GetString()!.Length, 1, (1 << 20) + 1);
        Assert.Equal("'finished'", r.GetProperty("results")[0].GetProperty("text").GetString());
        var c = await G.RunAsync(id, "head -c 104857600 /dev/zero | tr '\\0' y", "\"timeout\":60");
        Assert.True(c.GetProperty("truncated").GetBoolean());
        Assert.Equal(0, c.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Files_api_paths_cannot_escape_through_dotdot_or_symlinks()
    {
        var id = await G.CreateAsync("""{"runtime":"bash"}""");
        await G.RunAsync(id, "ln -s /etc/passwd ~/passwd-link; ln -s / ~/root-link; mkdir -p ~/d");
        foreach (var path in new[] { "/etc/passwd", "../../etc/passwd", "/home/user/../../etc/passwd", "passwd-link", "root-link/etc/hostname", "/proc/self/environ", "/opt/agw/agw-agent" })
        {
            var (status, body) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/files?path={Uri.EscapeDataString(path)}");
            Assert.True(status == HttpStatusCode.Forbidden, $"{path}: {status} {body}");
            Assert.Equal("path_denied", body.GetProperty("error").GetProperty("code").GetString());
        }
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/files?path={Uri.EscapeDataString("root-link/etc/x")}") { Content = new StringContent("x") };
        put.Headers.Authorization = new("Bearer", SandboxGateway.Master);
        using var response = await G.Server.Client.SendAsync(put);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Ptrace_mount_unshare_and_setuid_are_denied()
    {
        var id = await G.CreateAsync();
        var r = await G.ExecAsync(id, """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            results = {}
            results['ptrace'] = libc.ptrace(16, 1, 0, 0)            # PTRACE_ATTACH to pid 1
            results['mount'] = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)
            results['unshare'] = libc.unshare(0x10000000)            # CLONE_NEWUSER
            results['setuid0'] = libc.setuid(0)
            print(sorted(results.items()))
            """);
        Assert.Equal("[('mount', -1), ('ptrace', -1), ('setuid0', -1), ('unshare', -1)]\n", r.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task One_sandbox_cannot_touch_another_sandboxs_files_or_processes()
    {
        var a = await G.CreateAsync("""{"runtime":"bash"}""");
        var b = await G.CreateAsync("""{"runtime":"bash"}""");
        await G.RunAsync(a, "echo mine > ~/private.txt; sleep 300 &");
        var look = await G.RunAsync(b, "cat ~/private.txt; find / -name private.txt 2>/dev/null; ps -e -o comm= | grep -c sleep");
        Assert.DoesNotContain("mine", look.GetProperty("stdout").GetString());
        Assert.EndsWith("0\n", look.GetProperty("stdout").GetString());
    }
}
