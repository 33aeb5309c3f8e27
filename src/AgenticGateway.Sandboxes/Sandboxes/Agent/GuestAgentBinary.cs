namespace AgenticGateway.Sandboxes.Agent;

/// <summary>
/// Finds the guest agent (<c>agw-agent</c>, src/AgenticGateway.GuestAgent, Native AOT) that every driver runs inside
/// its sandboxes: AGW_GUEST_AGENT, else <c>guest-agent/agw-agent</c> beside the gateway, where the gateway's build and
/// publish put it (GuestAgentOutput.targets). The gateway never builds it itself.
/// </summary>
internal static class GuestAgentBinary
{
    public const string FileName = "agw-agent";
    public const string OverrideVariable = "AGW_GUEST_AGENT";

    /// <summary>Where the build puts the agent, relative to the gateway's directory.</summary>
    public static string BesideGateway => Path.Join(AppContext.BaseDirectory, "guest-agent", FileName);

    /// <summary>The agent's path; <paramref name="log"/> is told which one.</summary>
    public static string Locate(Action<string> log)
    {
        var path = Find(out var problem) ?? throw new InvalidOperationException(problem);
        log($"guest agent: {path}");
        return path;
    }

    /// <summary>The agent's path, or null with why there is none.</summary>
    public static string? Find(out string? problem)
    {
        problem = null;
        if (Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } configured)
        {
            if (File.Exists(configured)) return configured;
            problem = $"{OverrideVariable} is {configured}, which does not exist";
            return null;
        }
        if (File.Exists(BesideGateway)) return BesideGateway;
        problem = $"no guest agent: {BesideGateway} does not exist and {OverrideVariable} is not set (the gateway's build puts it there; "
            + "it needs gcc or clang for Native AOT, see docs/sandbox-agent-protocol.md)";
        return null;
    }
}
