using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>The guest agent the build put beside the gateway (see <see cref="GuestAgentBinary"/>) and the kernels for it.</summary>
internal static class GuestAgentBuild
{
    private static readonly Lazy<string> Binary = new(() => GuestAgentBinary.Locate(_ => { }));
    private static readonly Lazy<string> Guest = new(() =>
        AgenticGateway.Sandboxes.Bubblewrap.GuestFiles.Extract(System.IO.Path.Combine(AppContext.BaseDirectory, "guest-agent-test")));

    public static string Executable => Binary.Value;

    /// <summary>A directory with pykernel.py and nodekernel.js (the agent's --guest-dir).</summary>
    public static string GuestDirectory => Guest.Value;
}
