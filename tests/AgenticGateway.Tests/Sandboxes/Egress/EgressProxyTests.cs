using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AgenticGateway.Sandboxes.Egress;

namespace AgenticGateway.Tests.Sandboxes.Egress;

/// <summary>
/// The egress proxy against real bubblewrap sandboxes: a listener on the host's loopback must never see a connection,
/// however a sandbox names it; names resolve through a scripted resolver (there is no DNS here), so a name can be made
/// to answer loopback, private or metadata addresses, or a different address the second time (rebinding).
/// </summary>
[Trait("Category", "sandbox")]
public class EgressProxyTests
{
    [Fact]
    public async Task A_sandbox_never_reaches_host_loopback_however_it_names_it()
    {
        // The gateway host's own name resolves to one of its addresses (here 127.0.0.1, through /etc/hosts): the trap
        // listens there too, so naming the host itself is caught whatever it resolves to.
        var hostName = EgressHostNames.Normalize(Dns.GetHostName());
        Assert.Null(EgressHostNames.Problem(hostName, wildcard: false));
        var own = (await Dns.GetHostAddressesAsync(hostName)).Where(a => !a.IsIPv6LinkLocal).ToList();
        await using var trap = HostListener.Start([IPAddress.Loopback, IPAddress.IPv6Loopback, .. own], reply: false);
        var p = trap.Port;
        var resolver = new ScriptedResolver((host, _) => host switch
        {
            "loop4.example.com" => [IPAddress.Loopback],
            "loop6.example.com" => [IPAddress.IPv6Loopback],
            "mapped.example.com" => [IPAddress.Parse("::ffff:127.0.0.1")],
            "zero.example.com" => [IPAddress.Any],
            "zero6.example.com" => [IPAddress.IPv6Any],
            "ten.example.com" => [IPAddress.Parse("10.0.0.1")],
            "metadata.example.com" => [IPAddress.Parse("169.254.169.254")],
            "mixed.example.com" => [IPAddress.Parse("93.184.216.34"), IPAddress.Loopback],
            "nat64.example.com" => [IPAddress.Parse("64:ff9b::7f00:1")],
            "sixtofour.example.com" => [IPAddress.Parse("2002:7f00:1::")],
            _ => null,
        });
        await using var g = await SandboxGateway.StartAsync("pools: {}", services: s => s.AddSingleton<IEgressResolver>(resolver));
        var id = await g.CreateAsync(JsonSerializer.Serialize(new { runtime = "python", network = "allowlist", allow_hosts = new[] { "*.example.com", hostName } }));

        var byName = new Dictionary<string, string>
        {
            ["loop4.example.com"] = "resolves to 127.0.0.1, a loopback address",
            ["loop6.example.com"] = "resolves to ::1, a loopback address",
            ["mapped.example.com"] = "resolves to ::ffff:127.0.0.1, a loopback address (it carries 127.0.0.1)",
            ["zero.example.com"] = "resolves to 0.0.0.0, an unspecified address",
            ["zero6.example.com"] = "resolves to ::, the unspecified address",
            ["ten.example.com"] = "resolves to 10.0.0.1, a private address",
            ["metadata.example.com"] = "resolves to 169.254.169.254, a cloud metadata address",
            ["mixed.example.com"] = "resolves to 127.0.0.1, a loopback address",
            ["nat64.example.com"] = "resolves to 64:ff9b::7f00:1, a loopback address",
            ["sixtofour.example.com"] = "resolves to 2002:7f00:1::, a loopback address",
            ["LOOP4.Example.COM."] = "resolves to 127.0.0.1, a loopback address",
            [hostName] = "resolves to",
            [hostName + "."] = "resolves to",
        };
        var literals = new[]
        {
            "127.0.0.1", "[::1]", "127.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "0.0.0.0", "[::]",
            "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1%lo]", "[fe80::1%lo]", "169.254.169.254", "localhost", "LOCALHOST.", "foo.localhost",
        };
        var requests = new List<(string Line, string Reason)>();
        foreach (var (name, reason) in byName)
        {
            requests.Add(($"CONNECT {name}:{p}", reason));
            requests.Add(($"GET http://{name}:{p}/", reason));
        }
        foreach (var literal in literals)
        {
            requests.Add(($"CONNECT {literal}:{p}", "agentic-gateway egress"));
            requests.Add(($"GET http://{literal}:{p}/", "agentic-gateway egress"));
        }
        requests.Add(($"CONNECT ::1:{p}", "is an IP address"));
        requests.Add(($"GET http://[::1%25lo]:{p}/", "agentic-gateway egress"));
        requests.Add(($"GET http://loop4.example.com@127.0.0.1:{p}/", "127.0.0.1 is an IP address"));
        requests.Add(($"GET http://loop4.example.com:{p}@[::1]:{p}/", "is an IP address"));
        requests.Add(($"GET http://{hostName}@0x7f.1:{p}/", "127.0.0.1 is an IP address"));

        var answers = await RawProxyRequestsAsync(g, id, requests.Select(r => r.Line));
        Assert.True(trap.Accepted == 0, $"the loopback listener saw {trap.Accepted} connections; let through: "
            + string.Join("; ", answers.Where(a => !a.Value.StartsWith("HTTP/1.1 403", StringComparison.Ordinal)).Select(a => $"{a.Key} -> {a.Value.Split("\r\n")[0]}")));
        foreach (var (line, reason) in requests)
        {
            var answer = answers[line];
            Assert.True(answer.StartsWith("HTTP/1.1 403 Forbidden", StringComparison.Ordinal) && answer.Contains(reason, StringComparison.Ordinal),
                $"{line}: expected a 403 saying '{reason}', got: {answer}");
        }
    }

    [Fact]
    public async Task The_proxy_connects_to_the_address_it_checked_and_private_networks_need_the_operators_opt_in()
    {
        // One port on two loopback addresses: the operator opted 127.0.0.2 in (a mirror), 127.0.0.1 stays forbidden.
        await using var trap = HostListener.Start([IPAddress.Loopback], reply: false);
        await using var mirror = HostListener.Start([IPAddress.Parse("127.0.0.2")], reply: true, port: trap.Port);
        var p = trap.Port;
        var resolver = new ScriptedResolver((host, call) => host switch
        {
            "mirror.example.com" => [IPAddress.Parse("127.0.0.2")],
            "rebind.example.com" => [call == 1 ? IPAddress.Parse("127.0.0.2") : IPAddress.Loopback],
            "loop.example.com" => [IPAddress.Loopback],
            _ => null,
        });
        await using var g = await SandboxGateway.StartAsync("pools: {}, egress: {allow_hosts: ['*.example.com'], allow_private_networks: [127.0.0.2/32]}",
            services: s => s.AddSingleton<IEgressResolver>(resolver));

        var (status, body) = await g.PostAsync("/v1/sandboxes", """{"runtime":"python","network":"allowlist","allow_hosts":["mirror.example.com","example.org"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("allow_hosts", body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("'example.org' is not permitted by this gateway (sandboxes.egress.allow_hosts: *.example.com)", body.GetProperty("error").GetProperty("message").GetString());

        var id = await g.CreateAsync("""{"runtime":"python","network":"allowlist","allow_hosts":["mirror.example.com","rebind.example.com","loop.example.com"]}""");
        var r = await g.ExecAsync(id, $$"""
            import socket, urllib.request
            def get(url):
                try:
                    return urllib.request.urlopen(url, timeout=15).read().decode()
                except Exception as e:
                    return f"{getattr(e, 'code', None)} {e.read().decode().strip() if hasattr(e, 'read') else e}"
            print(get('http://mirror.example.com:{{p}}/x'))
            print(get('http://rebind.example.com:{{p}}/'))
            print(get('http://rebind.example.com:{{p}}/'))
            print(get('http://loop.example.com:{{p}}/'))
            print(get('http://example.org/'))
            s = socket.create_connection(('127.0.0.1', 3128), timeout=15)
            s.sendall(b'CONNECT mirror.example.com:{{p}} HTTP/1.1\r\nHost: mirror.example.com:{{p}}\r\n\r\n')
            head = b''
            while b'\r\n\r\n' not in head:
                head += s.recv(1)
            s.sendall(b'GET /t HTTP/1.1\r\nHost: mirror.example.com\r\n\r\n')
            reply = b''
            while chunk := s.recv(4096):
                reply += chunk
            print('tunnel', head.split(b'\r\n')[0].decode(), reply.decode().split('\r\n\r\n')[1])
            try:
                socket.create_connection(('127.0.0.1', {{p}}), timeout=1); print('direct connected')
            except OSError:
                print('direct refused')
            """);
        var lines = r.GetProperty("stdout").GetString()!.Split('\n');
        Assert.Equal("hello", lines[0]);
        Assert.Equal("hello", lines[1]);   // the first answer, checked and used
        Assert.Equal("403 agentic-gateway egress: rebind.example.com resolves to 127.0.0.1, a loopback address; refused", lines[2]);
        Assert.Equal("403 agentic-gateway egress: loop.example.com resolves to 127.0.0.1, a loopback address; refused", lines[3]);
        Assert.Equal("403 agentic-gateway egress: example.org is not in this sandbox's allow_hosts", lines[4]);
        Assert.Equal("tunnel HTTP/1.1 200 Connection Established hello", lines[5]);
        Assert.Equal("direct refused", lines[6]);
        Assert.Equal(2, resolver.Calls("rebind.example.com"));   // once per connection, never again to connect
        Assert.Equal(3, mirror.Accepted);   // the first request, the first rebind answer, the tunnel
        Assert.Equal(0, trap.Accepted);
    }

    /// <summary>Sends each request line to the proxy from inside the sandbox; returns what came back for each.</summary>
    private static async Task<Dictionary<string, string>> RawProxyRequestsAsync(SandboxGateway g, string id, IEnumerable<string> lines)
    {
        var code = $$"""
            import json, socket
            out = {}
            for line in json.loads({{JsonSerializer.Serialize(JsonSerializer.Serialize(lines))}}):
                s = socket.create_connection(('127.0.0.1', 3128), timeout=15)
                s.sendall((line + ' HTTP/1.1\r\nHost: t\r\n\r\n').encode())
                data = b''
                try:
                    while chunk := s.recv(4096):
                        data += chunk
                        if data.startswith(b'HTTP/1.1 200') and b'\r\n\r\n' in data:
                            break
                except OSError as e:
                    data += str(e).encode()
                s.close()
                out[line] = data.decode('latin-1')
            print(json.dumps(out))
            """;
        var r = await g.ExecAsync(id, code, "\"timeout\":300");
        var stdout = r.GetProperty("stdout").GetString()!;
        return JsonSerializer.Deserialize<Dictionary<string, string>>(stdout) ?? throw new InvalidOperationException(stdout);
    }
}

/// <summary>Answers names from a script (null: the host's resolver) and counts the questions per name.</summary>
internal sealed class ScriptedResolver(Func<string, int, IPAddress[]?> answer) : IEgressResolver
{
    private readonly ConcurrentDictionary<string, int> _calls = new();

    public int Calls(string host) => _calls.GetValueOrDefault(host);

    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var call = _calls.AddOrUpdate(host, 1, (_, n) => n + 1);
        return answer(host, call) ?? await Dns.GetHostAddressesAsync(host, cancellationToken);
    }
}

/// <summary>TCP listeners on host addresses, one port, counting the connections they accept (and answering "hello").</summary>
internal sealed class HostListener : IAsyncDisposable
{
    private readonly List<TcpListener> _listeners;
    private readonly List<Task> _loops = [];
    private int _accepted;

    private HostListener(List<TcpListener> listeners, bool reply)
    {
        _listeners = listeners;
        Port = ((IPEndPoint)listeners[0].LocalEndpoint).Port;
        foreach (var listener in listeners) _loops.Add(AcceptAsync(listener, reply));
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Listens on every address (IPv6 ones only where the host has IPv6) on one free port, or on <paramref name="port"/>.</summary>
    public static HostListener Start(IEnumerable<IPAddress> addresses, bool reply, int port = 0)
    {
        var distinct = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork || Socket.OSSupportsIPv6).Distinct().ToList();
        for (var attempt = 0; ; attempt++)
        {
            var listeners = new List<TcpListener>();
            try
            {
                foreach (var address in distinct)
                {
                    var listener = new TcpListener(address, listeners.Count == 0 ? port : ((IPEndPoint)listeners[0].LocalEndpoint).Port);
                    listeners.Add(listener);
                    listener.Start();
                }
                return new HostListener(listeners, reply);
            }
            catch (SocketException) when (attempt < 10 && port == 0)
            {
                foreach (var listener in listeners) listener.Stop();
            }
        }
    }

    private async Task AcceptAsync(TcpListener listener, bool reply)
    {
        while (true)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            Interlocked.Increment(ref _accepted);
            using (client)
            {
                if (!reply) continue;
                try
                {
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    _ = await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false);
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"u8.ToArray());
                }
                catch (IOException) { }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var listener in _listeners) listener.Stop();
        await Task.WhenAll(_loops);
    }
}
