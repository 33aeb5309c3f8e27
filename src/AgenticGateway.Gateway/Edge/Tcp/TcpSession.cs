using System.Net;

namespace AgenticGateway.Edge.Tcp;

/// <summary>A TCP service or middleware: handles the whole connection and returns when it is over.</summary>
internal delegate Task TcpHandler(TcpSession session);

/// <summary>A TCP middleware (ipAllowList, inFlightConn) wrapping the rest of a router's chain.</summary>
internal delegate TcpHandler TcpMiddleware(TcpHandler next);

/// <summary>
/// A connection a TCP router took: the client's byte stream (raw, or decrypted when the router terminates TLS), the
/// client's and the entry point's addresses (after a trusted PROXY protocol header), and how to end the client's side.
/// </summary>
internal sealed class TcpSession
{
    public required Stream Client { get; init; }
    public required IPEndPoint? Remote { get; init; }
    public required IPEndPoint? Local { get; init; }
    public required string EntryPoint { get; init; }
    public required string Router { get; init; }
    /// <summary>Stops sending to the client (half-close) once the backend finished sending.</summary>
    public required Func<ValueTask> CloseClientWrite { get; init; }
    /// <summary>Fires when the client's connection is gone or the edge shuts down.</summary>
    public required CancellationToken Aborted { get; init; }
}
