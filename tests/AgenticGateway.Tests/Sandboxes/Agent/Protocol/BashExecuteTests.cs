namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary><c>execute</c> in bash contexts (a persistent shell under the agent).</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class BashExecuteTests
{
    private const string Home = AgentUnderTest.Home;

    [Fact]
    public async Task Variables_functions_and_the_directory_persist_and_a_timeout_kills_background_jobs()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("sh", "bash");
        var r = await a.ExecuteAsync("sh", "X=5; f() { echo \"f:$1:$X\"; }; mkdir -p sub; cd sub; echo hi; echo err >&2");
        Assert.Equal(("hi\n", "err\n", 0), (r.Stdout, r.Stderr, r.ExitCode));
        r = await a.ExecuteAsync("sh", "f arg; pwd; false");
        Assert.Equal($"f:arg:5\n{Home}/sub\n", r.Stdout);
        Assert.Equal(1, r.ExitCode);          // the status of the last command
        r = await a.ExecuteAsync("sh", "echo \"$AGW_T3\"", new { env = new Dictionary<string, string> { ["AGW_T3"] = "it's v3" } });
        Assert.Equal("it's v3\n", r.Stdout);
        Assert.Equal("unset\n", (await a.ExecuteAsync("sh", "echo \"${AGW_T3-unset}\"")).Stdout);      // env restored
        Assert.Equal("read:1\n", (await a.ExecuteAsync("sh", "read line; echo \"read:$?\"")).Stdout);     // stdin is /dev/null
        r = await a.ExecuteAsync("sh", "echo before; sleep 30; echo after", new { timeout_ms = 300 });
        Assert.Equal(("before\n", true, false), (r.Stdout, r.TimedOut, r.ContextRestarted));
        Assert.Equal(new[] { "TimeoutError" }, r.ExceptionNames);
        Assert.Equal("5\n", (await a.ExecuteAsync("sh", "echo $X")).Stdout);        // survives the timeout
        // A timed-out cell's background processes (they ignore SIGINT) are killed with it; the shell stays.
        r = await a.ExecuteAsync("sh", "(sleep 300; echo leaked) & bomb() { sleep 300 & sleep 300; }; bomb & sleep 30", new { timeout_ms = 300 });
        Assert.Equal((true, false), (r.TimedOut, r.ContextRestarted));
        r = await a.ExecuteAsync("sh", "ps -o stat=,comm= -g $$ | grep -c '^[^Z].*sleep'; echo $X");       // zombies await reaping
        Assert.Equal("0\n5\n", r.Stdout);        // no sleep left in the shell's process group
        Assert.Equal("/tmp\n", (await a.ExecuteAsync("sh", "cd /tmp && pwd", new { cwd = Home })).Stdout);
        Assert.Equal($"{Home}/sub\n5\n", (await a.ExecuteAsync("sh", "pwd; echo $X", new { cwd = Home + "/sub" })).Stdout);
        r = await a.ExecuteAsync("sh", "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo done", timeoutSeconds: 60);
        Assert.Equal((true, 1 << 20), (r.Truncated, r.Stdout.Length));
        r = await a.ExecuteAsync("sh", "if then");
        Assert.True(r.ExitCode != 0 && r.Stderr.Contains("syntax"), r.ToString());
        r = await a.ExecuteAsync("sh", "exit 4");
        Assert.Equal((4, true), (r.ExitCode, r.ContextRestarted));
        Assert.Equal($"gone\n{Home}\n", (await a.ExecuteAsync("sh", "echo ${X-gone}; pwd")).Stdout);      // a fresh shell
        await a.ShutdownAsync();
    }
}
