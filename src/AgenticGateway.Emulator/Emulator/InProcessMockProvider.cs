using AgenticGateway.Configuration;
using AgenticGateway.Runtime;

namespace AgenticGateway.Emulator;

/// <summary>The built-in <c>mock</c> provider: each mock deployment gets an emulator of its own, with its settings.</summary>
internal sealed class InProcessMockProvider : IInProcessProvider
{
    public HttpMessageHandler CreateHandler(DeploymentOptions deployment) => new InProcessMockHandler(new MockEngine(MockSettings.From(deployment.Mock)));
}
