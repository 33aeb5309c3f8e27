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

    [Fact]
    public void The_python_kernel_is_compiled_by_the_sandboxes_interpreter_and_placed_beside_its_source()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "python3 is not installed (scripts/test.sh installs it)");
        var directory = Directory.CreateTempSubdirectory("agw-guest-files-").FullName;
        try
        {
            GuestFiles.Extract(directory);
            Assert.True(GuestFiles.CompilePythonKernel(directory, "/usr/bin/python3"));

            Assert.Contains(("/opt/agw/pykernel.pyc", "0644"), GuestFiles.Placements(directory).Select(p => (p.Sandbox, p.Mode)));
            // The bytecode of this interpreter's version (its magic number), named as the sandbox runs it.
            var magic = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", ["-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"]) { RedirectStandardOutput = true })!;
            var expected = magic.StandardOutput.ReadToEnd().Trim();
            magic.WaitForExit();
            var pyc = File.ReadAllBytes(Path.Join(directory, "pykernel.pyc"));
            Assert.Equal(expected, Convert.ToHexStringLower(pyc, 0, 4));
            Assert.True(pyc.AsSpan().IndexOf("/opt/agw/pykernel.pyc"u8) >= 0, "the code object is not named /opt/agw/pykernel.pyc");
            Assert.False(GuestFiles.CompilePythonKernel(directory, "/nonexistent/python3"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
