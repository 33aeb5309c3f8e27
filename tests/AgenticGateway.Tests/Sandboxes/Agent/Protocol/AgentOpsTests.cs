using AgenticGateway.Sandboxes;
using System.Diagnostics;
using System.Net.Sockets;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary>
/// The agent itself: its ready event, <c>ping</c>, <c>guest.resume</c>, <c>egress.start</c>, requests answered
/// concurrently, malformed lines, and its end on end-of-file.
/// </summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class AgentOpsTests
{
    [Fact]
    public async Task Ready_names_the_protocol_version_and_ping_is_answered()
    {
        await using var a = await AgentUnderTest.StartAsync();
        Assert.Equal(2, a.Ready.Int("version"));
        // The agent is bwrap's child, not pid 1 of the sandbox: .NET as pid 1 would reap the children it waits for.
        Assert.True(a.Ready.Int("pid") > 1, a.Ready.ToString());
        await a.CallAsync("ping");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Guest_resume_is_denied_without_the_privilege_to_set_the_clock()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("guest.resume", new { time_ns = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000, seed = new string('a', 64) }, expect: "denied");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Egress_start_relays_connections_to_the_unix_socket_with_half_closes()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var socketPath = Path.Join(a.HostRunDirectory, "egress.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(socketPath));
        server.Listen(8);
        AgenticGateway.Sandboxes.UnixFiles.SetMode(socketPath, (UnixFileMode)0b111_111_111);
        // Echoes what a connection sent, only after the client half-closed.
        var serving = Task.Run(async () =>
        {
            using var connection = await server.AcceptAsync();
            var received = new MemoryStream();
            var buffer = new byte[65536];
            int n;
            while ((n = await connection.ReceiveAsync(buffer)) > 0) received.Write(buffer, 0, n);
            await connection.SendAsync("echo:"u8.ToArray().Concat(received.ToArray()).ToArray());
            connection.Shutdown(SocketShutdown.Both);
        });
        var socket = AgentUnderTest.RunDirectory + "/egress.sock";
        var port = (await a.CallAsync("egress.start", new { port = 0, socket })).Int("port");
        var client = $"""
            import socket
            s = socket.create_connection(('127.0.0.1', {port}))
            s.sendall(b'x' * 200000)
            s.shutdown(socket.SHUT_WR)
            d = b''
            while True:
                b = s.recv(65536)
                if not b: break
                d += b
            print(len(d), d[:6])
            """;
        var r = await a.RunProcessAsync("/usr/bin/python3 -c " + ShellQuote(client));
        Assert.Equal("200005 b'echo:x'\n", r.Stdout);
        await serving;
        await a.CallAsync("egress.start", new { port, socket }, expect: "exists");
        await a.ShutdownAsync();
    }

    private static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [Fact]
    public async Task Requests_are_answered_while_an_execution_runs()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("cc", "python");
        var id = a.Send("execute", new { context = "cc", code = "import time\nprint('started', flush=True)\ntime.sleep(1)\n'slept'" });
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout");
        var watch = Stopwatch.StartNew();
        await a.CallAsync("ping");
        var ping = watch.Elapsed;
        await a.CallAsync("fs.mkdir", new { path = "conc" });
        await a.CallAsync("fs.stat", new { path = "conc" });
        await a.CreateContextAsync("cc2", "bash");
        Assert.Equal("parallel\n", (await a.ExecuteAsync("cc2", "echo parallel")).Stdout);       // another context runs meanwhile
        Assert.False(a.IsFinished(id), "the sleeping execution is still running");
        var (events, final) = await a.WaitAsync(id);
        Assert.Equal("'slept'", new AgentRun(events, final).MainText);
        Assert.True(ping < TimeSpan.FromMilliseconds(50), $"ping took {ping.TotalMilliseconds:0.0} ms during an execution");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Lines_that_are_not_requests_are_answered_with_id_0_errors_and_bad_arguments_are_invalid()
    {
        await using var a = await AgentUnderTest.StartAsync();
        a.WriteRaw("this is not json\n[1,2]\n{\"id\": -1, \"op\": \"ping\"}\n\n");
        await a.CallAsync("nonsense.op", expect: "invalid");
        await a.CallAsync("process.input", new { pid = "x" }, expect: "invalid");
        await a.CallAsync("execute", new { context = "" }, expect: "invalid");
        await a.CallAsync("fs.read", new { path = "x", offset = -1 }, expect: "invalid");
        await a.CallAsync("ping");
        Assert.Equal(3, a.IdZeroEvents().Count(e => e.Str("type") == "error"));
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task End_of_file_ends_the_agent_with_status_0_and_everything_it_started()
    {
        await using var a = await AgentUnderTest.StartAsync(pidOneWaitsForEveryProcess: true);
        await a.CreateContextAsync("py", "python");
        await a.CreateContextAsync("js", "node");
        await a.CreateContextAsync("sh", "bash");
        var id = a.Send("process.start", new { cmd = "sleep 1000" });
        await a.WaitEventAsync(id, e => e.Str("type") == "start");
        // The sandbox's pid 1 ends only once no process is left in it: the agent killed its contexts and processes.
        await a.ShutdownAsync();
    }
}
