using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>The published C# guest agent for tests (built once per source hash, see <see cref="GuestAgentBinary"/>) and the kernels beside it.</summary>
internal static class GuestAgentBuild
{
    private static readonly Lazy<string> Binary = new(() => GuestAgentBinary.Locate(Console.WriteLine));
    private static readonly Lazy<string> Guest = new(() =>
        AgenticGateway.Sandboxes.Bubblewrap.GuestFiles.Extract(System.IO.Path.Combine(AppContext.BaseDirectory, "guest-agent-test")));

    public static string Executable => Binary.Value;

    /// <summary>A directory with pykernel.py and nodekernel.js (the agent's --guest-dir).</summary>
    public static string GuestDirectory => Guest.Value;
}
