using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using AgenticGateway.Edge.Rules;
using AgenticGateway.Edge.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// The edge's handling of every connection to a TCP entry point, installed on the entry point's Kestrel listener in
/// place of UseHttps: PROXY protocol from trusted peers, a peek at the first bytes (TLS ClientHello: SNI and ALPN), then
/// Traefik's order — plain TCP routers, else HTTP; for TLS: ACME's tls-alpn-01, HTTPS routers naming the SNI, TCP TLS
/// routers (passthrough or terminated here), else TLS terminated here with the certificate by SNI and handed to HTTP.
/// </summary>
internal static class EdgeConnections
{
    /// <summary>
    /// Installs the edge on <paramref name="listenOptions"/> for <paramref name="entryPoint"/>; each connection reads the
    /// snapshot <paramref name="current"/> returns when it starts. Call it before Kestrel adds HTTP (inside Listen's callback).
    /// </summary>
    public static ListenOptions Use(ListenOptions listenOptions, string entryPoint, Func<EdgeTcpSnapshot> current)
    {
        var loggers = listenOptions.ApplicationServices?.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var logger = loggers.CreateLogger("AgenticGateway.Edge.Tcp");
        listenOptions.Use(next => new EdgeConnectionHandler(next, entryPoint, current, listenOptions, logger).OnConnectionAsync);
        return listenOptions;
    }
}

internal sealed partial class EdgeConnectionHandler(ConnectionDelegate next, string entryPoint, Func<EdgeTcpSnapshot> current, ListenOptions listen, ILogger logger)
{
    private const string AcmeTlsProtocol = "acme-tls/1";

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var snapshot = current();
        var routes = snapshot.EntryPoint(entryPoint);
        if (routes is null)
        {
            await next(context);
            return;
        }

        // Until the edge knows where the connection goes, the entry point's read timeout bounds the wait (Traefik's
        // respondingTimeouts.readTimeout deadline on the peek); afterwards HTTP or the TCP proxy own the connection.
        using var peek = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
        if (routes.Config.ReadTimeout > TimeSpan.Zero)
            peek.CancelAfter(routes.Config.ReadTimeout);
        ClientHello? hello;
        try
        {
            if (routes.Config.ProxyProtocol is { } trusted && !await ReadProxyHeaderAsync(context, trusted, peek.Token))
                return;
            if (routes.ServerFirst && routes.MatchPlain(new TcpRuleInput(null, [], ClientIp(context), false)) is { } early)
            {
                await ServeAsync(context, early, new DuplexPipeStream(context.Transport), CloseWrite(context));
                return;
            }
            hello = await PeekHelloAsync(context.Transport.Input, peek.Token);
        }
        catch (OperationCanceledException)
        {
            LogPeekTimeout(logger, entryPoint, context.RemoteEndPoint?.ToString());
            return;
        }
        if (hello is null)
            return;

        var input = new TcpRuleInput(hello.ServerName, hello.Alpn, ClientIp(context), hello.IsTls);
        if (!hello.IsTls)
        {
            if (routes.MatchPlain(input) is { } plain)
                await ServeAsync(context, plain, new DuplexPipeStream(context.Transport), CloseWrite(context));
            else
                await HttpAsync(context, hello, null, null);
            return;
        }

        if (snapshot.Tls.Acme is { } acme && hello.Alpn.Contains(AcmeTlsProtocol))
        {
            await AnswerAcmeAsync(context, snapshot.Tls, acme, hello.ServerName, peek.Token);
            return;
        }
        if (hello.ServerName is { } sni && routes.HttpsHosts.TryGetValue(sni, out var hostOptions))
        {
            await TerminateForHttpAsync(context, snapshot.Tls, hello, hostOptions, peek);
            return;
        }
        if (routes.MatchTls(input) is { } tcpTls)
        {
            if (tcpTls.Passthrough)
            {
                await ServeAsync(context, tcpTls, new DuplexPipeStream(context.Transport), CloseWrite(context));
                return;
            }
            var ssl = await HandshakeAsync(context, snapshot.Tls, hello.ServerName, tcpTls.TlsOptions!, http2: false, peek.Token);
            if (ssl is null)
                return;
            await using (ssl)
                await ServeAsync(context, tcpTls, ssl, async () => await ssl.ShutdownAsync());
            return;
        }
        await TerminateForHttpAsync(context, snapshot.Tls, hello, routes.HttpsDefault, peek);
    }

    private async Task TerminateForHttpAsync(ConnectionContext context, EdgeTls tls, ClientHello hello, EdgeTlsOptions options, CancellationTokenSource peek)
    {
        var http2 = (listen.Protocols & HttpProtocols.Http2) != 0;
        var ssl = await HandshakeAsync(context, tls, hello.ServerName, options, http2, peek.Token);
        if (ssl is null)
            return;
        await using (ssl)
            await HttpAsync(context, hello, ssl, options);
    }

    /// <summary>Hands the connection to Kestrel's HTTP: as it came, or decrypted with the TLS features HTTP reads.</summary>
    private async Task HttpAsync(ConnectionContext context, ClientHello hello, SslStream? ssl, EdgeTlsOptions? options)
    {
        context.Features.Set(new EdgeConnectionFeature(entryPoint, hello.ServerName, ssl is not null));
        if (ssl is null)
        {
            await next(context);
            return;
        }
        var features = new TlsConnectionFeatures(ssl);
        context.Features.Set<ITlsConnectionFeature>(features);
        context.Features.Set<ITlsHandshakeFeature>(features);
        context.Features.Set<ITlsApplicationProtocolFeature>(features);
        context.Features.Set<ISslStreamFeature>(features);
        var original = context.Transport;
        context.Transport = new StreamDuplexPipe(ssl);
        try
        {
            await next(context);
        }
        finally
        {
            context.Transport = original;
        }
    }

    private async Task<SslStream?> HandshakeAsync(ConnectionContext context, EdgeTls tls, string? serverName, EdgeTlsOptions options, bool http2, CancellationToken cancellation)
    {
        var serverOptions = tls.ServerOptions(serverName, options, http2);
        if (serverOptions is null)
        {
            LogSniStrict(logger, entryPoint, serverName ?? "(none)");
            return null;
        }
        var ssl = new SslStream(new DuplexPipeStream(context.Transport), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(serverOptions, cancellation);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or InvalidOperationException)
        {
            LogHandshakeFailed(logger, entryPoint, serverName ?? "(none)", e.Message);
            await ssl.DisposeAsync();
            return null;
        }
    }

    /// <summary>RFC 8737: complete the handshake with the challenge certificate, offering only acme-tls/1, then close.</summary>
    private async Task AnswerAcmeAsync(ConnectionContext context, EdgeTls tls, IAcmeTlsChallenge acme, string? serverName, CancellationToken cancellation)
    {
        if (serverName is null || acme.ChallengeCertificate(serverName) is not { } certificate)
            return;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = tls.Certificates.ContextOf(certificate),
            ApplicationProtocols = [new SslApplicationProtocol(AcmeTlsProtocol)],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        };
        await using var ssl = new SslStream(new DuplexPipeStream(context.Transport), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(options, cancellation);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            LogHandshakeFailed(logger, entryPoint, serverName, e.Message);
        }
    }

    private async Task ServeAsync(ConnectionContext context, TcpRoute route, Stream client, Func<ValueTask> closeWrite)
    {
        var session = new TcpSession
        {
            Client = client,
            Remote = context.RemoteEndPoint as IPEndPoint,
            Local = context.LocalEndPoint as IPEndPoint,
            EntryPoint = entryPoint,
            Router = route.Name,
            CloseClientWrite = closeWrite,
            Aborted = context.ConnectionClosed,
        };
        try
        {
            await route.Handler(session);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            LogTcpEnded(logger, route.Name, e.Message);
        }
    }

    private static Func<ValueTask> CloseWrite(ConnectionContext context) => () => context.Transport.Output.CompleteAsync();

    private static IPAddress? ClientIp(ConnectionContext context)
    {
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        return address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
    }

    /// <summary>
    /// Reads a PROXY protocol header: from a trusted peer its addresses replace the connection's; from any other peer a
    /// header is read and ignored (go-proxyproto's IGNORE, which Traefik uses for untrusted peers). False: a broken header.
    /// </summary>
    private async Task<bool> ReadProxyHeaderAsync(ConnectionContext context, TrustedIpsConfig trusted, CancellationToken cancellation)
    {
        var input = context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(cancellation);
            var buffer = result.Buffer;
            var status = ProxyProtocol.TryRead(buffer, out var header, out var length);
            switch (status)
            {
                case ProxyHeaderStatus.None:
                    input.AdvanceTo(buffer.Start);
                    return true;
                case ProxyHeaderStatus.Header:
                    input.AdvanceTo(buffer.GetPosition(length));
                    if (IsTrusted(context, trusted))
                    {
                        if (header.Source is not null)
                            context.RemoteEndPoint = header.Source;
                        if (header.Destination is not null)
                            context.LocalEndPoint = header.Destination;
                    }
                    return true;
                case ProxyHeaderStatus.Invalid:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    LogBadProxyHeader(logger, entryPoint, context.RemoteEndPoint?.ToString());
                    return false;
                default:
                    if (result.IsCompleted)
                    {
                        input.AdvanceTo(buffer.Start, buffer.End);
                        return false;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    break;
            }
        }
    }

    private static bool IsTrusted(ConnectionContext context, TrustedIpsConfig trusted)
    {
        if (trusted.Insecure)
            return true;
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        if (address is null)
            return false;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        foreach (var text in trusted.TrustedIps)
        {
            if (TcpMiddlewares.ParseRange(text) is { } range && range.Contains(address))
                return true;
        }
        return false;
    }

    /// <summary>Waits for enough bytes to know whether the client speaks TLS and, if so, its whole ClientHello; consumes nothing.</summary>
    private async Task<ClientHello?> PeekHelloAsync(PipeReader input, CancellationToken cancellation)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellation);
            var buffer = result.Buffer;
            var status = ClientHelloParser.TryParse(buffer, out var hello);
            if (status == ClientHelloStatus.Done)
            {
                // Nothing examined: HTTP or the proxy reads these same bytes at once, without waiting for more.
                input.AdvanceTo(buffer.Start);
                return hello;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (status == ClientHelloStatus.Invalid || result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                    LogBadHello(logger, entryPoint);
                return null;
            }
        }
    }

    [LoggerMessage(1940, LogLevel.Debug, "Entry point {EntryPoint}: client {Client} sent nothing to route by within the read timeout")]
    private static partial void LogPeekTimeout(ILogger logger, string entryPoint, string? client);

    [LoggerMessage(1941, LogLevel.Debug, "Entry point {EntryPoint}: a malformed TLS ClientHello; connection closed")]
    private static partial void LogBadHello(ILogger logger, string entryPoint);

    [LoggerMessage(1942, LogLevel.Debug, "Entry point {EntryPoint}: TLS handshake for {ServerName} failed: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, string entryPoint, string serverName, string reason);

    [LoggerMessage(1943, LogLevel.Debug, "Entry point {EntryPoint}: no certificate for {ServerName} and the TLS options are sniStrict; connection closed")]
    private static partial void LogSniStrict(ILogger logger, string entryPoint, string serverName);

    [LoggerMessage(1944, LogLevel.Warning, "Entry point {EntryPoint}: a malformed PROXY protocol header from {Client}; connection closed")]
    private static partial void LogBadProxyHeader(ILogger logger, string entryPoint, string? client);

    [LoggerMessage(1945, LogLevel.Debug, "TCP router {Router}: connection ended: {Reason}")]
    private static partial void LogTcpEnded(ILogger logger, string router, string reason);
}
