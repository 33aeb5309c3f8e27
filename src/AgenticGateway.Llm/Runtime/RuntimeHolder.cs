using AgenticGateway.Configuration;

namespace AgenticGateway.Runtime;

/// <summary>Holds the current runtime snapshot and swaps in a new one atomically on reload.</summary>
internal sealed class RuntimeHolder(RuntimeBuilder builder, GatewayOptions initial)
{
    private volatile GatewayRuntime _current = builder.Build(initial);

    public GatewayRuntime Current => _current;

    public GatewayRuntime Swap(GatewayOptions options)
    {
        var next = builder.Build(options);
        _current = next;
        return next;
    }
}
