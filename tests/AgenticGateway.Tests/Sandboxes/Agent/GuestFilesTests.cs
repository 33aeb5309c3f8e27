using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>What the bubblewrap driver copies into every sandbox: the agent, the kernels and the generated /etc files.</summary>
[Trait("Category", "unit")]
public class GuestFilesTests
{
    [Fact]
    public void The_agent_is_placed_executable_beside_the_kernels_and_leftovers_of_earlier_versions_are_removed()
    {
        var directory = Directory.CreateTempSubdirectory("agw-guest-files-").FullName;
        try
        {
            // What the Python agent's gateway versions left in the state directory.
            File.WriteAllText(Path.Join(directory, "agent.py"), "old");
            Directory.CreateDirectory(Path.Join(directory, "__pycache__"));
            File.WriteAllText(Path.Join(directory, "__pycache__", "agent.cpython-311.pyc"), "old");
            var agent = Path.Join(directory, "..", Path.GetFileName(directory) + "-agw-agent");
            File.WriteAllBytes(agent, [0x7f, (byte)'E', (byte)'L', (byte)'F']);

            GuestFiles.Extract(directory, agent);
            var placements = GuestFiles.Placements(directory).Select(p => (p.Sandbox, p.Mode)).ToList();

            Assert.Equal(
                new[] { ("/etc/group", "0644"), ("/etc/hosts", "0644"), ("/etc/nsswitch.conf", "0644"), ("/etc/passwd", "0644"),
                 ("/opt/agw/agw-agent", "0755"), ("/opt/agw/nodekernel.js", "0644"), ("/opt/agw/pykernel.py", "0644") },
                placements.OrderBy(p => p.Sandbox, StringComparer.Ordinal));
            Assert.Equal(File.ReadAllBytes(agent), File.ReadAllBytes(Path.Join(directory, "agw-agent")));
            Assert.False(Directory.Exists(Path.Join(directory, "__pycache__")));
            File.Delete(agent);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
