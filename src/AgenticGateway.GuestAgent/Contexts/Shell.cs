namespace AgenticGateway.GuestAgent.Contexts;

/// <summary>Single-quoting for the shell lines the agent writes to a bash context.</summary>
internal static class Shell
{
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
