using AgenticGateway.GuestAgent.Loop;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>Parses <c>--transport</c>: <c>stdio</c>, <c>unix:PATH</c>, <c>vsock:PORT</c>, <c>serial:NAME</c>.</summary>
internal static class TransportSpec
{
    public static IAgentTransport Parse(string spec, AgentLoop loop, string sysfsClassDirectory, string devDirectory)
    {
        var colon = spec.IndexOf(':');
        var (kind, arg) = colon < 0 ? (spec, "") : (spec[..colon], spec[(colon + 1)..]);
        return kind switch
        {
            "stdio" when arg.Length == 0 => new StdioTransport(loop),
            "unix" when arg.Length > 0 => new UnixSocketTransport(loop, arg),
            "vsock" when uint.TryParse(arg, out var port) => new VsockTransport(loop, port),
            "serial" when arg.Length > 0 => new SerialTransport(loop, arg, sysfsClassDirectory, devDirectory),
            _ => throw new ArgumentException($"bad transport '{spec}' (stdio, unix:PATH, vsock:PORT or serial:NAME)"),
        };
    }
}
