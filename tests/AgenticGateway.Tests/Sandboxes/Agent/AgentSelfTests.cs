using System.Diagnostics;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>
/// The guest agent's own protocol self-test (src/AgenticGateway/Sandboxes/Guest/selftest.py): every op in python, node
/// and bash contexts, processes, files, egress and shutdown, against the agent inside bubblewrap as a sandbox runs it.
/// Both implementations of the protocol pass the same checks: agent.py and the C# agw-agent.
/// </summary>
[Trait("Category", "sandbox")]
public class AgentSelfTests
{
    [Fact]
    public Task The_guest_agent_passes_its_protocol_self_test() => RunSelfTest();

    [Fact]
    public Task The_csharp_guest_agent_passes_the_same_protocol_self_test() => RunSelfTest("--agent", GuestAgentBuild.Executable);

    private static async Task RunSelfTest(params string[] extra)
    {
        var script = Path.Combine(AgenticGateway.Tests.Deploy.DeployFiles.Root, "src", "AgenticGateway", "Sandboxes", "Guest", "selftest.py");
        var info = new ProcessStartInfo("/usr/bin/python3", [script, "--bwrap", "--no-bench", .. extra])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
        Assert.True(process.HasExited && process.ExitCode == 0, $"{await stdout}\n{await stderr}");
        Assert.Contains("all passed", await stdout);
    }
}
