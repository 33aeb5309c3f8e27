using System.Diagnostics;
using System.Text;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary><c>process.start</c>, <c>process.input</c>, <c>process.signal</c>, <c>process.resize</c>, <c>process.list</c> and <c>cancel</c> of a process.</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class ProcessOpsTests
{
    private static Task<System.Text.Json.JsonElement> Started(AgentUnderTest a, long id) => a.WaitEventAsync(id, e => e.Str("type") == "start");

    [Fact]
    public async Task Start_runs_a_shell_command_with_pipes_env_cwd_timeout_and_output_cap()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var r = await a.RunProcessAsync("echo out; echo err >&2; pwd; exit 3", new { cwd = AgentUnderTest.Tmp });
        Assert.Equal(($"out\n{AgentUnderTest.Tmp}\n", "err\n", 3), (r.Stdout, r.Stderr, r.ExitCode));
        Assert.False(r.Done.TryGetProperty("signal", out _), r.ToString());
        Assert.False(r.TimedOut);
        Assert.Equal("v4\n", (await a.RunProcessAsync("echo $AGW_T4", new { env = new Dictionary<string, string> { ["AGW_T4"] = "v4" } })).Stdout);
        var watch = Stopwatch.StartNew();
        r = await a.RunProcessAsync("echo started; sleep 30", new { timeout_ms = 300 });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{watch.Elapsed}");
        Assert.Equal(("started\n", true, "SIGKILL"), (r.Stdout, r.TimedOut, r.Done.Str("signal")));
        r = await a.RunProcessAsync("head -c 5000000 /dev/zero | tr '\\0' y; echo", new { max_output_bytes = 1000 });
        Assert.Equal((1000, true, 0), (r.Stdout.Length, r.Truncated, r.ExitCode));
        await a.CallAsync("process.start", new { cmd = "true", cwd = AgentUnderTest.Home + "/missing" }, expect: "not_found");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Input_writes_to_stdin_and_closes_it()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var id = a.Send("process.start", new { cmd = "cat; echo end", tag = "cat" });
        var pid = (await Started(a, id)).Int("pid");
        await a.CallAsync("process.input", new { pid, data = "line1\n" });
        await a.CallAsync("process.input", new { pid, data_b64 = Convert.ToBase64String("line2\n"u8), eof = true });
        var (events, final) = await a.WaitAsync(id);
        Assert.Equal("line1\nline2\nend\n", new AgentRun(events, final).Stdout);
        await a.CallAsync("process.input", new { pid, data = "x" }, expect: "not_found");       // it has ended
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task List_shows_running_processes_only()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var id = a.Send("process.start", new { cmd = "cat; echo end", tag = "cat" });
        var pid = (await Started(a, id)).Int("pid");
        var entry = (await a.CallAsync("process.list")).GetProperty("processes").EnumerateArray().Single(p => p.Int("pid") == pid);
        Assert.Equal(("cat", "cat; echo end", false), (entry.Str("tag"), entry.Str("cmd"), entry.Bool("pty")));
        await a.CallAsync("process.input", new { pid, eof = true });
        await a.WaitAsync(id);
        Assert.DoesNotContain((await a.CallAsync("process.list")).GetProperty("processes").EnumerateArray(), p => p.Int("pid") == pid);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Signal_reaches_the_process_group_and_names_the_signal_it_ended_by()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var id = a.Send("process.start", new { cmd = "trap 'echo got-usr1' USR1; echo trapped; while :; do sleep 0.05; done" });
        var pid = (await Started(a, id)).Int("pid");
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout" && e.Str("data")!.Contains("trapped"));
        await a.CallAsync("process.signal", new { pid, signal = "SIGUSR1" });
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout" && e.Str("data")!.Contains("got-usr1"));
        await a.CallAsync("process.signal", new { pid, signal = "SIGSEGV" }, expect: "invalid");
        await a.CallAsync("process.signal", new { pid, signal = "SIGTERM" });
        var (_, final) = await a.WaitAsync(id);
        Assert.Equal(("SIGTERM", 143), (final.Str("signal"), final.Int("exit_code")));
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Cancel_kills_a_process()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var id = a.Send("process.start", new { cmd = "sleep 30" });
        await Started(a, id);
        await a.CallAsync("cancel", new { target = id });
        var (_, final) = await a.WaitAsync(id, 5);
        Assert.Equal("SIGKILL", final.Str("signal"));
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Output_arrives_in_full_after_a_command_left_a_background_job()
    {
        await using var a = await AgentUnderTest.StartAsync();
        // A command that leaves a job running ends with its pipes still open elsewhere; the descriptors it frees are
        // reused by the next command, whose output must still arrive in full (not stall once a pipe buffer fills).
        var r = await a.RunProcessAsync("sleep 30 & echo started");
        Assert.Equal(("started\n", 0), (r.Stdout, r.ExitCode));
        r = await a.RunProcessAsync("head -c 300000 /dev/zero | base64 -w 0", new { timeout_ms = 10000 });
        Assert.Equal((400000, false), (r.Stdout.Length, r.TimedOut));
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task A_pty_process_is_resized_takes_input_and_end_of_file_and_is_signalled()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var r = await a.RunProcessAsync("tty; stty size; echo TERM=$TERM", new { pty = new { cols = 100, rows = 30 } });
        var output = Encoding.UTF8.GetString(r.Pty);
        Assert.True(output.Contains("/dev/pts/") && output.Contains("30 100") && output.Contains("TERM=xterm"), output);
        Assert.True(r.Stderr == "" && r.Stdout == "", "pty data comes as data_b64");
        var id = a.Send("process.start", new { cmd = "echo go; read a; stty size; read b; echo \"b=$b\"", pty = new { cols = 80, rows = 24 } });
        var pid = (await Started(a, id)).Int("pid");
        await a.WaitEventAsync(id, e => e.Str("data_b64") is { } d && Encoding.UTF8.GetString(Convert.FromBase64String(d)).Contains("go"));
        await a.CallAsync("process.resize", new { pid, cols = 120, rows = 40 });
        await a.CallAsync("process.input", new { pid, data = "\n" });
        await a.CallAsync("process.input", new { pid, data = "hello\n" });
        var (events, final) = await a.WaitAsync(id);
        output = Encoding.UTF8.GetString(new AgentRun(events, final).Pty);
        Assert.True(output.Contains("40 120") && output.Contains("b=hello"), output);
        Assert.Equal(0, final.Int("exit_code"));
        id = a.Send("process.start", new { cmd = "cat", pty = new { cols = 80, rows = 24 } });
        pid = (await Started(a, id)).Int("pid");
        await a.CallAsync("process.input", new { pid, data = "abc\n", eof = true });
        Assert.Equal(0, (await a.WaitAsync(id, 5)).Final.Int("exit_code"));       // end-of-file (^D) ends cat on a pty
        id = a.Send("process.start", new { cmd = "sleep 30", pty = new { cols = 80, rows = 24 } });
        pid = (await Started(a, id)).Int("pid");
        await a.CallAsync("process.signal", new { pid, signal = "SIGINT" });
        Assert.Equal("SIGINT", (await a.WaitAsync(id, 5)).Final.Str("signal"));
        await a.RunProcessAsync("true");
        await a.CallAsync("process.resize", new { pid = 12345678, cols = 1, rows = 1 }, expect: "not_found");
        await a.ShutdownAsync();
    }
}
