namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// Where the protocol's byte stream comes from: stdin/stdout, a Unix socket, a vsock port or a virtio-serial port.
/// The agent speaks the same protocol over each; a transport only finds and opens its stream (waiting for the host's
/// side where it must), once.
/// </summary>
internal interface IAgentTransport
{
    /// <summary>Waits for the host side and returns the stream requests come in on and events go out on.</summary>
    AgentStreams Open();
}

/// <summary>The two directions of a transport (often the same duplex stream).</summary>
internal sealed record AgentStreams(Stream Input, Stream Output);
