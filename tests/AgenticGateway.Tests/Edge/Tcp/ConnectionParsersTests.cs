using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using AgenticGateway.Edge.Tcp;

namespace AgenticGateway.Tests.Edge.Tcp;

/// <summary>The edge's readers of a connection's first bytes: a real TLS ClientHello (SNI, ALPN, split across reads) and PROXY protocol headers.</summary>
[Trait("Category", "unit")]
public class ConnectionParsersTests
{
    /// <summary>The first bytes .NET's own TLS client sends for <paramref name="serverName"/> and <paramref name="alpn"/>.</summary>
    private static async Task<byte[]> ClientHelloAsync(string serverName, params string[] alpn)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        var ssl = new SslStream(client.GetStream());
        _ = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = [.. alpn.Select(p => new SslApplicationProtocol(p))],
        });
        var buffer = new byte[16384];
        var total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            total += await server.GetStream().ReadAsync(buffer.AsMemory(total), timeout.Token);
            if (ClientHelloParser.TryParse(new ReadOnlySequence<byte>(buffer, 0, total), out _) != ClientHelloStatus.NeedMore)
                return buffer[..total];
        }
    }

    [Fact]
    public async Task ClientHello_gives_the_SNI_and_ALPN_protocols()
    {
        var bytes = await ClientHelloAsync("api.example.com", "h2", "http/1.1");

        Assert.Equal(ClientHelloStatus.Done, ClientHelloParser.TryParse(new ReadOnlySequence<byte>(bytes), out var hello));

        Assert.True(hello.IsTls);
        Assert.Equal("api.example.com", hello.ServerName);
        Assert.Equal(["h2", "http/1.1"], hello.Alpn);
    }

    [Fact]
    public async Task ClientHello_needs_more_until_the_last_byte_and_reads_one_split_into_two_records()
    {
        var bytes = await ClientHelloAsync("split.example.com", "h2");
        for (var length = 0; length < bytes.Length; length += 7)
            Assert.Equal(ClientHelloStatus.NeedMore, ClientHelloParser.TryParse(new ReadOnlySequence<byte>(bytes, 0, length), out _));

        // The same handshake message carried by two records (as a client with a large hello sends it).
        var body = bytes.AsSpan(5).ToArray();
        var half = body.Length / 2;
        byte[] Record(ReadOnlySpan<byte> part) => [0x16, 0x03, 0x01, (byte)(part.Length >> 8), (byte)part.Length, .. part];
        byte[] split = [.. Record(body.AsSpan(0, half)), .. Record(body.AsSpan(half))];

        Assert.Equal(ClientHelloStatus.Done, ClientHelloParser.TryParse(new ReadOnlySequence<byte>(split), out var hello));
        Assert.Equal("split.example.com", hello.ServerName);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", false, "Done")]
    [InlineData("\u0016\u0003\u0001\u0000\u0004\u0002\u0000\u0000\u0000", false, "Invalid")]
    public void Other_first_bytes_are_plain_or_invalid(string text, bool tls, string status)
    {
        Assert.Equal(status, ClientHelloParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), out var hello).ToString());
        Assert.Equal(tls, hello.IsTls);
    }

    [Theory]
    [InlineData(1, "198.51.100.4", "203.0.113.9")]
    [InlineData(2, "198.51.100.4", "203.0.113.9")]
    [InlineData(1, "2001:db8::4", "2001:db8::9")]
    [InlineData(2, "2001:db8::4", "2001:db8::9")]
    public void Proxy_headers_written_are_read_back(int version, string source, string destination)
    {
        var from = new IPEndPoint(IPAddress.Parse(source), 40000);
        var to = new IPEndPoint(IPAddress.Parse(destination), 443);
        byte[] bytes = [.. ProxyProtocol.Write(version, from, to), .. "GET"u8];

        Assert.Equal(ProxyHeaderStatus.Header, ProxyProtocol.TryRead(new ReadOnlySequence<byte>(bytes), out var header, out var length));

        Assert.Equal(from, header.Source);
        Assert.Equal(to, header.Destination);
        Assert.Equal(bytes.Length - 3, length);
        Assert.Equal(ProxyHeaderStatus.NeedMore, ProxyProtocol.TryRead(new ReadOnlySequence<byte>(bytes, 0, length - 1), out _, out _));
    }

    [Fact]
    public void Proxy_v1_text_from_the_specification_is_read()
    {
        var bytes = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"u8.ToArray();

        Assert.Equal(ProxyHeaderStatus.Header, ProxyProtocol.TryRead(new ReadOnlySequence<byte>(bytes), out var header, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Broadcast, 65535), header.Source);
        Assert.Equal(ProxyHeaderStatus.Header, ProxyProtocol.TryRead(new ReadOnlySequence<byte>("PROXY UNKNOWN\r\n"u8.ToArray()), out var unknown, out _));
        Assert.Null(unknown.Source);
    }

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")]          // no CR
    [InlineData("PROXY TCP4 ::1 5.6.7.8 1 2\r\n")]            // family mismatch
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n")]    // port out of range
    public void Broken_proxy_v1_headers_are_invalid(string text) =>
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryRead(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out _, out _));

    [Fact]
    public void Bytes_that_are_not_a_proxy_header_are_none()
    {
        Assert.Equal(ProxyHeaderStatus.None, ProxyProtocol.TryRead(new ReadOnlySequence<byte>("GET / HTTP/1.1\r\n"u8.ToArray()), out _, out _));
        Assert.Equal(ProxyHeaderStatus.NeedMore, ProxyProtocol.TryRead(new ReadOnlySequence<byte>("PRO"u8.ToArray()), out _, out _));
    }
}
