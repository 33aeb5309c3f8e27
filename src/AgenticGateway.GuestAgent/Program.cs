using AgenticGateway.GuestAgent;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.GuestAgent.Transport;

// agw-agent [--transport stdio|unix:PATH|vsock:PORT|serial:NAME] [--guest-dir DIR] [--sysfs DIR] [--dev DIR] [--context NAME=LANGUAGE]...
// The sandbox's guest agent: docs/sandbox-agent-protocol.md.
const string Usage = "usage: agw-agent [--transport stdio|unix:PATH|vsock:PORT|serial:NAME] [--guest-dir DIR] [--sysfs DIR] [--dev DIR] [--context NAME=LANGUAGE]...";
string transportSpec = "stdio", sysfs = "/sys/class", dev = "/dev";
string? guestDir = null;
var preStart = new List<(string Name, string Language)>();
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--transport": transportSpec = Value(); break;
        case "--guest-dir": guestDir = Value(); break;
        case "--sysfs": sysfs = Value(); break;
        case "--dev": dev = Value(); break;
        case "--context":
            var spec = Value();
            var eq = spec.IndexOf('=');
            if (eq <= 0 || !Agent.IsLanguage(spec[(eq + 1)..]))
            {
                Console.Error.WriteLine($"agw-agent: --context takes NAME=LANGUAGE (python, node or bash), not '{spec}'");
                return 2;
            }
            preStart.Add((spec[..eq], spec[(eq + 1)..]));
            break;
        case "--help" or "-h":
            Console.Error.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"agw-agent: unknown argument {args[i]}");
            return 2;
    }
}

// Before any thread of the agent's exists, so that they all inherit the mask and the loop's signalfd gets the signals.
var unblocked = SignalQueue.BlockEverywhere();
var loop = new AgentLoop();
// The loop's thread from here on (RunForever runs it below): the interpreters started next await on it.
loop.Enter();
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

AgentSettings settings;
try
{
    settings = AgentSettings.FromEnvironment(guestDir);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"agw-agent: {e.Message}");
    return 2;
}
SandboxUser.Configure(settings.User, settings.Home);
ChildExits.BecomeSubreaper();
var events = new EventSink();
var agent = new Agent(settings, loop, events);
// The contexts the host asked for start now, before the transport is open and the ready event is out: the
// interpreter's own start-up (tens of ms for Python) then overlaps the rest of the agent's and the host's instead of
// following a context.create round trip. The host's context.create of the same name joins it (protocol doc).
foreach (var (name, language) in preStart) agent.PreStart(name, language);
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

events.OnBroken = () => loop.Run(agent.Shutdown);       // the gateway is gone
events.Start(streams.Output);
if (unblocked is not null) AgentLog.Write($"thread {unblocked} takes SIGCHLD/SIGTERM/SIGHUP/SIGINT itself: the agent may miss them");
// SIGINT is ignored (read and dropped); children start with default dispositions and an empty mask (posix_spawn).
loop.Post(_ => _ = SignalQueue.RunAsync(loop, sig =>
{
    if (sig == Libc.SIGCHLD) ChildExits.ReapOrphans();
    else if (sig is Libc.SIGTERM or Libc.SIGHUP) agent.Shutdown();
}), null);

var ready = events.Begin(0, "ready");
ready.WriteNumber("pid", Environment.ProcessId);
ready.WriteNumber("version", Agent.Version);
events.End();
loop.Post(_ => _ = agent.ServeAsync(streams.Input), null);
loop.RunForever();
return 0;
