namespace AgenticGateway.Sandboxes;

/// <summary>Where built artefacts for sandboxes are cached across runs (guest images).</summary>
internal static class SandboxCache
{
    /// <summary>/var/cache/agentic-gateway as root, else $XDG_CACHE_HOME/agentic-gateway (~/.cache by default).</summary>
    public static string Root =>
        Environment.IsPrivilegedProcess ? "/var/cache/agentic-gateway"
        : Path.Join(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "agentic-gateway");
}
