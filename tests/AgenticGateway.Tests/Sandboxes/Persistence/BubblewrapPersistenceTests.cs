using System.Net;
using Microsoft.Extensions.Time.Testing;
using static AgenticGateway.Tests.Sandboxes.Persistence.PersistenceTestSupport;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>Pause, resume, snapshots and forks on real bubblewrap sandboxes, each test with a gateway of its own.</summary>
[Trait("Category", "sandbox")]
public class BubblewrapPersistenceTests
{
    private const string Files = """
        mkdir -p /home/user/project/sub && printf 'kept in home' > /home/user/project/sub/a.txt && chmod 640 /home/user/project/sub/a.txt
        ln -s sub/a.txt /home/user/project/link && printf 'kept in tmp' > /tmp/t.txt && echo done
        """;

    private const string Check = "cat /home/user/project/sub/a.txt; echo; cat /home/user/project/link; echo; cat /tmp/t.txt; echo; stat -c %a /home/user/project/sub/a.txt; readlink /home/user/project/link";

    [Fact]
    public async Task Pause_keeps_home_and_tmp_but_not_processes_and_resume_keeps_the_id()
    {
        var data = Directory.CreateTempSubdirectory("agw-persist-").FullName;
        await using var g = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
        var id = await g.CreateAsync();
        Assert.Equal("done\n", await ShellAsync(g, id, Files));
        await g.RunAsync(id, "sleep 1000 >/dev/null 2>&1 &");
        await g.ExecAsync(id, "x = 41");

        var paused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/pause", HttpStatusCode.OK);
        Assert.Equal("paused", paused.GetProperty("status").GetString());
        Assert.True(File.Exists(Path.Join(StateDirectory(data, "paused", id), "files.tar")));
        Assert.Equal("paused", (await ExpectAsync(g, HttpMethod.Get, $"/v1/sandboxes/{id}", HttpStatusCode.OK)).GetProperty("status").GetString());
        var list = await ExpectAsync(g, HttpMethod.Get, "/v1/sandboxes", HttpStatusCode.OK);
        Assert.Contains(list.GetProperty("data").EnumerateArray(), s => s.GetProperty("id").GetString() == id && s.GetProperty("status").GetString() == "paused");
        // Paused: nothing runs, so nothing can be run in it.
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/commands", HttpStatusCode.NotFound, """{"cmd":"true"}""");

        var resumed = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.OK, """{"timeout": 120}""");
        Assert.Equal(id, resumed.GetProperty("id").GetString());
        Assert.Equal("running", resumed.GetProperty("status").GetString());
        Assert.Equal("kept in home\nkept in home\nkept in tmp\n640\nsub/a.txt\n", await ShellAsync(g, id, Check));
        // Files are the sandbox user's as before: it can change them.
        Assert.Equal("ok\n", await ShellAsync(g, id, "echo more >> /home/user/project/sub/a.txt && echo ok"));
        // Processes and memory did not survive (bubblewrap keeps files only).
        Assert.DoesNotContain("sleep", await ShellAsync(g, id, "cat /proc/[0-9]*/comm"));
        var x = await g.ExecAsync(id, "print(x)");
        Assert.Contains("NameError", x.ToString());
        // The state is used up by the resume.
        Assert.False(Directory.Exists(StateDirectory(data, "paused", id)));
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.OK);   // running: resume is a no-op
    }

    [Fact]
    public async Task A_corrupt_or_missing_state_file_is_refused_and_never_resumed()
    {
        var data = Directory.CreateTempSubdirectory("agw-persist-").FullName;
        await using var g = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
        var id = await g.CreateAsync("""{"runtime":"bash"}""");
        await ShellAsync(g, id, Files);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/pause", HttpStatusCode.OK);
        var archive = Path.Join(StateDirectory(data, "paused", id), "files.tar");
        FlipByte(archive, 700);

        var refused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.UnprocessableEntity);
        Assert.Equal("snapshot_corrupt", ErrorCode(refused));
        Assert.Contains(id, ErrorMessage(refused));
        Assert.Contains("files.tar checksum mismatch", ErrorMessage(refused));
        // Still paused, not running: nothing was started from it.
        Assert.Equal("paused", (await ExpectAsync(g, HttpMethod.Get, $"/v1/sandboxes/{id}", HttpStatusCode.OK)).GetProperty("status").GetString());
        FlipByte(archive, 700);
        FlipByte(Path.Join(StateDirectory(data, "paused", id), "manifest.json"), 20);
        refused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.UnprocessableEntity);
        Assert.Contains("manifest.json checksum mismatch", ErrorMessage(refused));
        FlipByte(Path.Join(StateDirectory(data, "paused", id), "manifest.json"), 20);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.OK);

        // A snapshot whose file is gone: the fork is refused, naming the snapshot and the file.
        var snapshot = (await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/snapshots", HttpStatusCode.Created)).GetProperty("id").GetString()!;
        File.Delete(Path.Join(StateDirectory(data, "snapshot", snapshot), "files.tar"));
        refused = await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.UnprocessableEntity, $$"""{"snapshot":"{{snapshot}}"}""");
        Assert.Contains(snapshot, ErrorMessage(refused));
        Assert.Contains("files.tar is missing", ErrorMessage(refused));
    }

    [Fact]
    public async Task A_snapshot_leaves_the_sandbox_running_and_forks_are_independent_copies()
    {
        var data = Directory.CreateTempSubdirectory("agw-persist-").FullName;
        await using var g = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
        var source = await g.CreateAsync("""{"runtime":"bash","metadata":{"team":"a"}}""");
        await ShellAsync(g, source, Files);
        var snapshot = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{source}/snapshots", HttpStatusCode.Created);
        var snapshotId = snapshot.GetProperty("id").GetString()!;
        Assert.StartsWith("snap-", snapshotId);
        Assert.Equal(source, snapshot.GetProperty("sandbox_id").GetString());
        Assert.Equal("still here\n", await ShellAsync(g, source, "echo still here"));
        var listed = await ExpectAsync(g, HttpMethod.Get, "/v1/snapshots", HttpStatusCode.OK);
        Assert.Equal(snapshotId, Assert.Single(listed.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());

        var a = (await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.Created, $$$"""{"snapshot":"{{{snapshotId}}}","metadata":{"fork":"a"}}""")).GetProperty("id").GetString()!;
        var b = (await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.Created, $$"""{"snapshot":"{{snapshotId}}"}""")).GetProperty("id").GetString()!;
        Assert.Equal(3, new[] { source, a, b }.Distinct().Count());
        Assert.Equal("kept in home\nkept in home\nkept in tmp\n640\nsub/a.txt\n", await ShellAsync(g, a, Check));
        var forkA = await ExpectAsync(g, HttpMethod.Get, $"/v1/sandboxes/{a}", HttpStatusCode.OK);
        Assert.Equal("a", forkA.GetProperty("metadata").GetProperty("fork").GetString());

        // Each writes its own copy: no change shows in the source or the other fork.
        await ShellAsync(g, a, "printf 'changed in a' > /home/user/project/sub/a.txt; rm /tmp/t.txt");
        await ShellAsync(g, source, "printf 'changed in source' > /tmp/t.txt");
        Assert.Equal("kept in home\nkept in home\nkept in tmp\n640\nsub/a.txt\n", await ShellAsync(g, b, Check));
        Assert.Equal("kept in home", await ShellAsync(g, source, "cat /home/user/project/sub/a.txt"));
        Assert.Equal("changed in a", await ShellAsync(g, a, "cat /home/user/project/sub/a.txt; test ! -e /tmp/t.txt"));

        await ExpectAsync(g, HttpMethod.Delete, $"/v1/snapshots/{snapshotId}", HttpStatusCode.OK);
        Assert.False(Directory.Exists(StateDirectory(data, "snapshot", snapshotId)));
        await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.NotFound, $$"""{"snapshot":"{{snapshotId}}"}""");
        await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.BadRequest, """{"snapshot":42}""");
    }

    [Fact]
    public async Task Another_key_gets_404_for_paused_sandboxes_and_snapshots()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        var owner = await g.NewKeyAsync();
        var other = await g.NewKeyAsync();
        var running = await g.CreateAsync("""{"runtime":"bash"}""", owner);
        var paused = await g.CreateAsync("""{"runtime":"bash"}""", owner);
        var snapshot = (await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{running}/snapshots", HttpStatusCode.Created, key: owner)).GetProperty("id").GetString()!;
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{paused}/pause", HttpStatusCode.OK, key: owner);

        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{running}/pause", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{running}/snapshots", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Get, $"/v1/sandboxes/{paused}", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{paused}/resume", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Delete, $"/v1/sandboxes/{paused}", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Get, $"/v1/snapshots/{snapshot}", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Delete, $"/v1/snapshots/{snapshot}", HttpStatusCode.NotFound, key: other);
        await ExpectAsync(g, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.NotFound, $$"""{"snapshot":"{{snapshot}}"}""", other);
        Assert.Empty((await ExpectAsync(g, HttpMethod.Get, "/v1/snapshots", HttpStatusCode.OK, key: other)).GetProperty("data").EnumerateArray());
        Assert.DoesNotContain(paused, (await ExpectAsync(g, HttpMethod.Get, "/v1/sandboxes", HttpStatusCode.OK, key: other)).ToString());

        // The owner still has both.
        await ExpectAsync(g, HttpMethod.Get, $"/v1/snapshots/{snapshot}", HttpStatusCode.OK, key: owner);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{paused}/resume", HttpStatusCode.OK, key: owner);
    }

    [Fact]
    public async Task Caps_on_paused_sandboxes_snapshots_and_disk_are_refused_with_4xx()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}, persistence: {max_paused: 1, max_snapshots: 1, max_disk_mb: 2}");
        var key = await g.NewKeyAsync();
        var first = await g.CreateAsync("""{"runtime":"bash"}""", key);
        var second = await g.CreateAsync("""{"runtime":"bash"}""", key);
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{first}/pause", HttpStatusCode.OK, key: key);
        var refused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{second}/pause", HttpStatusCode.TooManyRequests, key: key);
        Assert.Equal("sandbox_paused_quota", ErrorCode(refused));
        Assert.Equal("ok\n", await ShellAsync(g, second, "echo ok", key));        // refused before anything stopped
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{second}/snapshots", HttpStatusCode.Created, key: key);
        refused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{second}/snapshots", HttpStatusCode.TooManyRequests, key: key);
        Assert.Equal("sandbox_snapshot_quota", ErrorCode(refused));
        // Another key has caps of its own.
        var mine = await g.CreateAsync("""{"runtime":"bash"}""");
        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{mine}/pause", HttpStatusCode.OK);

        // Disk: 3 MiB of random bytes does not fit in 2 MiB; the sandbox keeps running with its files.
        var big = await g.CreateAsync("""{"runtime":"bash"}""");
        await ShellAsync(g, big, "head -c 3000000 /dev/urandom > /home/user/big.bin");
        refused = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{big}/snapshots", HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("sandbox_persistence_disk_quota", ErrorCode(refused));
        Assert.Equal("3000000\n", await ShellAsync(g, big, "stat -c %s /home/user/big.bin"));
    }

    [Fact]
    public async Task Auto_pause_at_the_timeout_keeps_the_sandbox_for_resume()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var g = await SandboxGateway.StartAsync("pools: {}", services: s => s.AddSingleton<TimeProvider>(clock));
        var auto = await g.CreateAsync("""{"runtime":"bash","timeout":60,"auto_pause":true}""");
        var plain = await g.CreateAsync("""{"runtime":"bash","timeout":60}""");
        await ShellAsync(g, auto, Files);
        clock.Advance(TimeSpan.FromSeconds(61));
        // While its files are saved it is neither running nor paused (a 404); then paused.
        await WaitUntil(async () => await g.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{auto}") is (HttpStatusCode.OK, var body) && body.GetProperty("status").GetString() == "paused", TimeSpan.FromSeconds(30));
        await WaitUntil(async () => (await g.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{plain}")).Status == HttpStatusCode.NotFound, TimeSpan.FromSeconds(30));
        var paused = await ExpectAsync(g, HttpMethod.Get, $"/v1/sandboxes/{auto}", HttpStatusCode.OK);
        Assert.True(paused.GetProperty("auto_pause").GetBoolean());

        await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{auto}/resume", HttpStatusCode.OK);
        Assert.Equal("kept in home\nkept in home\nkept in tmp\n640\nsub/a.txt\n", await ShellAsync(g, auto, Check));
    }

    [Fact]
    public async Task Paused_and_auto_pause_sandboxes_survive_a_gateway_restart()
    {
        var data = Directory.CreateTempSubdirectory("agw-persist-").FullName;
        string id, auto, plain;
        await using (var first = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data))
        {
            id = await first.CreateAsync("""{"runtime":"bash"}""");
            await ShellAsync(first, id, Files);
            await ExpectAsync(first, HttpMethod.Post, $"/v1/sandboxes/{id}/pause", HttpStatusCode.OK);
            // Running at shutdown: the auto-pause one is paused, the other ends.
            auto = await first.CreateAsync("""{"runtime":"bash","auto_pause":true}""");
            await ShellAsync(first, auto, Files);
            plain = await first.CreateAsync("""{"runtime":"bash"}""");
        }
        await using var second = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
        foreach (var paused in new[] { id, auto })
        {
            Assert.Equal("paused", (await ExpectAsync(second, HttpMethod.Get, $"/v1/sandboxes/{paused}", HttpStatusCode.OK)).GetProperty("status").GetString());
            await ExpectAsync(second, HttpMethod.Post, $"/v1/sandboxes/{paused}/resume", HttpStatusCode.OK);
            Assert.Equal("kept in home\nkept in home\nkept in tmp\n640\nsub/a.txt\n", await ShellAsync(second, paused, Check));
        }
        await ExpectAsync(second, HttpMethod.Get, $"/v1/sandboxes/{plain}", HttpStatusCode.NotFound);
    }
}
