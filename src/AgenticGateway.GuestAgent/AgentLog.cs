namespace AgenticGateway.GuestAgent;

/// <summary>Diagnostics go to stderr as plain lines: stdout may be the protocol stream, and a guest has no log sink.</summary>
internal static class AgentLog
{
    public static void Write(string message)
    {
        try { Console.Error.WriteLine("agw-agent: " + message); }
        catch (IOException) { }
    }
}
