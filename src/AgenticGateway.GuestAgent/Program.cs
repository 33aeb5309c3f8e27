using System.Runtime.InteropServices;
using AgenticGateway.GuestAgent;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.GuestAgent.Transport;

// agw-agent [--transport stdio|unix:PATH|vsock:PORT|serial:NAME] [--guest-dir DIR] [--sysfs DIR] [--dev DIR]
// The sandbox's guest agent: docs/sandbox-agent-protocol.md.
string transportSpec = "stdio", sysfs = "/sys/class", dev = "/dev";
string? guestDir = null;
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--transport": transportSpec = Value(); break;
        case "--guest-dir": guestDir = Value(); break;
        case "--sysfs": sysfs = Value(); break;
        case "--dev": dev = Value(); break;
        case "--help" or "-h":
            Console.Error.WriteLine("usage: agw-agent [--transport stdio|unix:PATH|vsock:PORT|serial:NAME] [--guest-dir DIR] [--sysfs DIR] [--dev DIR]");
            return 0;
        default:
            Console.Error.WriteLine($"agw-agent: unknown argument {args[i]}");
            return 2;
    }
}

var loop = new AgentLoop();
IAgentTransport transport;
try
{
    transport = TransportSpec.Parse(transportSpec, loop, sysfs, dev);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"agw-agent: {e.Message}");
    return 2;
}

var settings = AgentSettings.FromEnvironment(guestDir);
ChildExits.BecomeSubreaper();
AgentStreams streams;
try
{
    streams = transport.Open();
}
catch (Exception e) when (e is IOException or InvalidOperationException or System.Net.Sockets.SocketException or ErrnoException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"agw-agent: cannot open transport {transportSpec}: {e.Message}");
    return 1;
}

var events = new EventSink();
var agent = new Agent(settings, loop, events);
events.OnBroken = () => loop.Run(agent.Shutdown);       // the gateway is gone
events.Start(streams.Output);
// Handlers, not SIG_IGN: children start with default dispositions anyway (posix_spawn resets them).
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; loop.Run(agent.Shutdown); });
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; loop.Run(agent.Shutdown); });
var reapQueued = 0;
using var sigchld = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ =>
{
    if (Interlocked.Exchange(ref reapQueued, 1) == 0)
        loop.Post(_ => { Volatile.Write(ref reapQueued, 0); ChildExits.ReapOrphans(); }, null);
});

var ready = events.Begin(0, "ready");
ready.WriteNumber("pid", Environment.ProcessId);
ready.WriteNumber("version", Agent.Version);
events.End();
loop.Post(_ => _ = agent.ServeAsync(streams.Input), null);
loop.RunForever();
return 0;
