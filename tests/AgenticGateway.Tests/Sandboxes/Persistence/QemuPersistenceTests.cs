using System.Net;
using AgenticGateway.Tests.Sandboxes.Qemu;
using Xunit.Abstractions;
using static AgenticGateway.Tests.Sandboxes.Persistence.PersistenceTestSupport;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>Pause, resume and forks of real QEMU microVMs keep memory: interpreter state and running processes.</summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class QemuPersistenceTests(QemuGatewayFixture fixture, ITestOutputHelper output)
{
    private SandboxGateway G => fixture.Gateway;

    private const string Probe = "import os; print(x, child.poll(), os.path.exists(f'/proc/{child.pid}'), open('/home/user/kept.txt').read())";

    [Fact]
    public async Task Pause_and_resume_keep_memory_and_processes_and_a_fork_is_an_independent_copy()
    {
        var id = await G.CreateAsync();
        await G.ExecAsync(id, "import subprocess; x = 41; child = subprocess.Popen(['sleep', '1000'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); open('/home/user/kept.txt', 'w').write('file')");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var paused = await ExpectAsync(G, HttpMethod.Post, $"/v1/sandboxes/{id}/pause", HttpStatusCode.OK);
        output.WriteLine($"pause: {watch.ElapsedMilliseconds} ms, {paused.GetProperty("size_bytes").GetInt64() >> 20} MiB");
        Assert.Equal("paused", paused.GetProperty("status").GetString());
        Assert.Equal("qemu", paused.GetProperty("isolation").GetString());
        watch.Restart();
        await ExpectAsync(G, HttpMethod.Post, $"/v1/sandboxes/{id}/resume", HttpStatusCode.OK);
        output.WriteLine($"resume: {watch.ElapsedMilliseconds} ms");
        // The variable, the still-running child process and the file in the guest's tmpfs are all there.
        Assert.Equal("41 None True file\n", (await G.ExecAsync(id, Probe)).GetProperty("stdout").GetString());
        Assert.Equal("ok\n", await ShellAsync(G, id, "echo ok"));

        var snapshot = (await ExpectAsync(G, HttpMethod.Post, $"/v1/sandboxes/{id}/snapshots", HttpStatusCode.Created)).GetProperty("id").GetString()!;
        Assert.Equal("42\n", (await G.ExecAsync(id, "x += 1; print(x)")).GetProperty("stdout").GetString());      // kept running
        var fork = (await ExpectAsync(G, HttpMethod.Post, "/v1/sandboxes", HttpStatusCode.Created, $$"""{"snapshot":"{{snapshot}}"}""")).GetProperty("id").GetString()!;
        Assert.NotEqual(id, fork);
        Assert.Equal("41 None True file\n", (await G.ExecAsync(fork, Probe)).GetProperty("stdout").GetString());
        await G.ExecAsync(fork, "x = 0; open('/home/user/kept.txt', 'w').write('fork')");
        Assert.Equal("42 file\n", (await G.ExecAsync(id, "print(x, open('/home/user/kept.txt').read())")).GetProperty("stdout").GetString());
        // Each has randomness of its own after the fork.
        var a = (await G.ExecAsync(id, "print(os.urandom(8).hex())")).GetProperty("stdout").GetString();
        var b = (await G.ExecAsync(fork, "print(os.urandom(8).hex())")).GetProperty("stdout").GetString();
        Assert.NotEqual(a, b);

        foreach (var s in new[] { id, fork }) await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{s}");
        await ExpectAsync(G, HttpMethod.Delete, $"/v1/snapshots/{snapshot}", HttpStatusCode.OK);
    }
}
