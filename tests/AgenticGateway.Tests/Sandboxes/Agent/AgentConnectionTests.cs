using System.Diagnostics;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>The gateway's protocol client against the real guest agent, run directly (no sandbox) in a temporary home.</summary>
[Trait("Category", "sandbox")]
public class AgentConnectionTests
{
    private static (Process, AgentConnection) StartAgent(string home)
    {
        var info = new ProcessStartInfo(GuestAgentBuild.Executable, ["--guest-dir", GuestAgentBuild.GuestDirectory])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = home,
        };
        info.Environment["AGW_HOME"] = home;
        info.Environment["AGW_FS_ROOTS"] = home;
        var process = Process.Start(info)!;
        return (process, new AgentConnection(process.StandardInput.BaseStream, process.StandardOutput.BaseStream));
    }

    [Fact]
    public async Task Requests_interleave_and_each_gets_its_own_answer()
    {
        var home = Directory.CreateTempSubdirectory("agw-agent-").FullName;
        var (process, agent) = StartAgent(home);
        try
        {
            var ready = await agent.Ready.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("ready", ready.GetProperty("type").GetString());
            await agent.CallAsync("context.create", w => { w.WriteString("context", "py"); w.WriteString("language", "python"); }, default).WaitAsync(TimeSpan.FromSeconds(20));
            await agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(5));
            await agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(5));
            var slow = agent.Start("execute", w => { w.WriteString("context", "py"); w.WriteString("code", "import time\ntime.sleep(0.5)\nprint('slow')"); });
            // A ping is answered while the execution sleeps.
            var sw = Stopwatch.StartNew();
            await agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(5));
            Assert.True(sw.ElapsedMilliseconds < 400, $"ping took {sw.ElapsedMilliseconds} ms");
            var events = new List<AgentEvent>();
            await foreach (var e in slow.Events.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token)) events.Add(e);
            Assert.Equal("done", events[^1].Type);
            Assert.Equal("slow\n", string.Concat(events.Where(e => e.Type == "stdout").Select(e => e.String("data"))));
            for (var i = 0; i < 20; i++)
                await agent.CallAsync("fs.list", w => w.WriteString("path", home), default).WaitAsync(TimeSpan.FromSeconds(5));
            var error = await Assert.ThrowsAsync<AgentException>(() => agent.CallAsync("fs.read", w => w.WriteString("path", "/etc/passwd"), default));
            Assert.Equal("denied", error.Code);
        }
        finally
        {
            await agent.DisposeAsync();
            Assert.True(process.WaitForExit(5000), "the agent ends when its stdin closes");
            Directory.Delete(home, true);
        }
    }
}
