using AgenticGateway.Configuration;

namespace AgenticGateway.Runtime;

/// <summary>
/// Serves the <c>mock</c> provider's deployments in process: the host supplies the emulator here, so the gateway
/// itself does not carry it. Without one, a mock deployment has no transport and answers 502.
/// </summary>
internal interface IInProcessProvider
{
    /// <summary>A handler that answers this mock deployment's requests in process.</summary>
    HttpMessageHandler CreateHandler(DeploymentOptions deployment);
}
