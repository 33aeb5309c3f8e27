using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary>
/// What E2B's envd needs of the agent: <c>process.start</c> with <c>argv</c> and without stdin, reads outside the
/// writable roots when asked (<c>anywhere</c>), <c>fs.mkdir</c> <c>exclusive</c>, entries' uid and gid, and
/// <c>fs.watch</c>.
/// </summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class EnvdSupportOpsTests
{
    [Fact]
    public async Task Start_runs_an_argv_found_in_path_and_without_stdin_reads_end_of_file()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var r = await a.RunProcessAsync("ignored", new { argv = new[] { "printf", "%s|", "a b", "$HOME" } });
        Assert.Equal(("a b|$HOME|", 0), (r.Stdout, r.ExitCode));        // no shell: arguments as given
        r = await a.RunProcessAsync("cat; echo eof", new { stdin = false });
        Assert.Equal("eof\n", r.Stdout);
        var id = a.Send("process.start", new { cmd = "sleep 5", stdin = false });
        var pid = (await a.WaitEventAsync(id, e => e.Str("type") == "start")).Int("pid");
        await a.CallAsync("process.input", new { pid, data = "x" }, expect: "invalid");
        var listed = (await a.CallAsync("process.list")).GetProperty("processes").EnumerateArray().Single(p => p.Int("pid") == pid);
        Assert.False(listed.Bool("stdin"));
        await a.CallAsync("process.signal", new { pid, signal = "SIGKILL" });
        await a.CallAsync("process.start", new { argv = new[] { "no-such-program" } }, expect: "not_found");
        await a.CallAsync("process.start", new { argv = Array.Empty<string>() }, expect: "invalid");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Reads_reach_outside_the_roots_only_when_asked_and_writes_never_do()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.list", new { path = "/" }, expect: "denied");
        var root = (await a.CallAsync("fs.list", new { path = "/", anywhere = true })).GetProperty("entries").EnumerateArray().Select(e => e.Str("name")).ToList();
        Assert.Contains("usr", root);
        var bash = (await a.CallAsync("fs.stat", new { path = "/usr/bin/bash", anywhere = true })).GetProperty("entry");
        Assert.Equal(("file", JsonValueKind.Number), (bash.Str("type"), bash.GetProperty("uid").ValueKind));
        Assert.NotEmpty(Convert.FromBase64String((await a.CallAsync("fs.read", new { path = "/usr/bin/bash", length = 4, anywhere = true })).Str("data_b64")!));
        await a.CallAsync("fs.mkdir", new { path = "/usr/evil", anywhere = true }, expect: "denied");
        await a.CallAsync("fs.remove", new { path = "/usr/bin/bash", anywhere = true }, expect: "denied");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Mkdir_exclusive_tells_an_existing_directory_from_a_new_one()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.mkdir", new { path = "x/y", exclusive = true });
        await a.CallAsync("fs.mkdir", new { path = "x/y", exclusive = true }, expect: "exists");
        await a.UploadAsync("file.txt", "f"u8.ToArray());
        await a.CallAsync("fs.mkdir", new { path = "file.txt", exclusive = true }, expect: "invalid");
        var entry = (await a.CallAsync("fs.stat", new { path = "x/y" })).GetProperty("entry");
        var ids = (await a.RunProcessAsync("echo $(id -u) $(id -g)")).Stdout.Trim();
        Assert.Equal(ids, $"{entry.Int("uid")} {entry.Int("gid")}");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Watch_reports_changes_by_name_recursively_until_cancelled()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.mkdir", new { path = "w/old" });
        await a.CallAsync("fs.watch", new { path = "w/nothing" }, expect: "not_found");
        await a.UploadAsync("plain.txt", "p"u8.ToArray());
        await a.CallAsync("fs.watch", new { path = "plain.txt" }, expect: "invalid");
        await a.CallAsync("fs.watch", new { path = "/usr" }, expect: "denied");

        var id = a.Send("fs.watch", new { path = "w", recursive = true });
        await a.WaitEventAsync(id, e => e.Str("type") == "start");
        await a.RunProcessAsync("cd w && echo 1 > a.txt && chmod 600 a.txt && mv a.txt b.txt && echo 2 > old/in.txt && mkdir new && sleep 0.2 && echo 3 > new/deep.txt && rm b.txt");
        await a.WaitEventAsync(id, e => e.Str("type") == "fs_event" && e.Str("name") == "b.txt" && e.Str("op") == "remove");
        await a.WaitEventAsync(id, e => e.Str("name") == "new/deep.txt" && e.Str("op") == "create");
        await a.CallAsync("cancel", new { target = id });
        var (events, final) = await a.WaitAsync(id);
        Assert.Equal("done", final.Str("type"));
        var seen = events.Where(e => e.Str("type") == "fs_event").Select(e => (e.Str("name"), e.Str("op"))).ToList();
        foreach (var expected in new (string?, string?)[]
        {
            ("a.txt", "create"), ("a.txt", "write"), ("a.txt", "chmod"), ("a.txt", "rename"), ("b.txt", "create"),
            ("old/in.txt", "create"), ("new", "create"), ("new/deep.txt", "create"), ("b.txt", "remove"),
        })
            Assert.True(seen.Contains(expected), $"{expected} not in {string.Join(", ", seen)}");
        await a.ShutdownAsync();
    }
}
