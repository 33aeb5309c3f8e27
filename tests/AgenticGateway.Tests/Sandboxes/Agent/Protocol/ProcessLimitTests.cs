namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary>
/// The agent in a sandbox whose every pid is taken (cgroup pids.max, which counts threads too): what needs a new process
/// is refused with <c>limit</c>, everything else works, and the agent makes no thread after start. It once did (thread
/// pool workers for file ops, the event writer, timers and SIGCHLD handlers), and when the pool could not add a worker
/// the runtime let the OutOfMemoryException go unhandled: the agent died on the context restart that killed the processes.
/// </summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class ProcessLimitTests
{
    private const string TakeEveryPid = """
        import subprocess
        procs = []
        try:
            while True: procs.append(subprocess.Popen(['sleep', '600']))
        except OSError as e:
            print('refused after', len(procs), type(e).__name__)
        """;

    [Fact]
    public async Task At_the_process_limit_only_new_processes_are_refused_the_agent_lives_and_makes_no_thread()
    {
        await using var a = await AgentUnderTest.StartAsync(maxProcesses: 64);
        var threads = a.AgentThreads();
        var created = await a.CreateContextAsync("py", "python");
        var filled = await a.ExecuteAsync("py", TakeEveryPid);
        Assert.Matches(@"^refused after \d+ BlockingIOError\n$", filled.Stdout);

        // Whatever needs a process is refused, as the protocol says.
        await a.CallAsync("process.start", new { cmd = "true", timeout_ms = 5000 }, expect: "limit");
        await a.CallAsync("context.create", new { context = "sh", language = "bash" }, expect: "limit");
        // What does not: file ops, many at once and an upload (they ran on pool threads), a ping, and an execution
        // that times out (a timer, then SIGINT).
        var ops = Enumerable.Range(0, 16).Select(i => a.Send(i % 2 == 0 ? "fs.stat" : "fs.list", new { path = AgentUnderTest.Home })).ToList();
        await a.UploadAsync(AgentUnderTest.Tmp + "/at-limit.bin", new byte[300_000], chunk: 50_000);
        foreach (var id in ops) Assert.Equal("done", (await a.WaitAsync(id)).Final.Str("type"));
        await a.CallAsync("ping");
        var slow = await a.ExecuteAsync("py", "import time\ntime.sleep(30)", new { timeout_ms = 300 });
        Assert.True(slow.TimedOut, slow.ToString());

        // A restart kills the interpreter with every sleep (a burst of SIGCHLDs) and starts a new one once their pids
        // are reaped; then processes start again.
        var restarted = await a.CallAsync("context.restart", new { context = "py" });
        Assert.NotEqual(created.Int("pid"), restarted.Int("pid"));
        Assert.Equal(0, (await a.RunProcessAsync("true")).ExitCode);
        Assert.Equal("2\n", (await a.ExecuteAsync("py", "print(1 + 1)")).Stdout);

        Assert.Equal(threads, a.AgentThreads());
        await a.ShutdownAsync();
    }
}
