namespace AgenticGateway.Sandboxes.Protocol;

/// <summary>The protocol's version (the agent's ready event carries it) and its operations, by wire name.</summary>
internal static class AgentOps
{
    public const int Version = 2;

    public const string Ping = "ping";
    public const string GuestResume = "guest.resume";
    public const string EgressStart = "egress.start";
    public const string Cancel = "cancel";

    public const string ContextCreate = "context.create";
    public const string ContextList = "context.list";
    public const string ContextRestart = "context.restart";
    public const string ContextRemove = "context.remove";
    public const string Execute = "execute";

    public const string ProcessStart = "process.start";
    public const string ProcessInput = "process.input";
    public const string ProcessSignal = "process.signal";
    public const string ProcessResize = "process.resize";
    public const string ProcessList = "process.list";

    public const string FsStat = "fs.stat";
    public const string FsList = "fs.list";
    public const string FsRead = "fs.read";
    public const string FsWrite = "fs.write";
    public const string FsMkdir = "fs.mkdir";
    public const string FsMove = "fs.move";
    public const string FsRemove = "fs.remove";
    public const string FsWatch = "fs.watch";
}

/// <summary>The error codes a failed operation carries, and what each means to a caller.</summary>
internal static class AgentErrors
{
    /// <summary>The request is malformed or names something of the wrong kind.</summary>
    public const string Invalid = "invalid";
    public const string NotFound = "not_found";
    public const string Exists = "exists";
    /// <summary>The context is running another execution.</summary>
    public const string Busy = "busy";
    /// <summary>Outside the writable roots, read-only, or not permitted.</summary>
    public const string Denied = "denied";
    /// <summary>Past the disk cap or a size limit.</summary>
    public const string TooLarge = "too_large";
    /// <summary>The sandbox is at its process limit: a fork, clone or thread was refused.</summary>
    public const string Limit = "limit";
    public const string Internal = "internal";
}
