using System.Collections.Frozen;
using System.Collections.Immutable;
using AgenticGateway.Configuration;

namespace AgenticGateway.Runtime;

/// <summary>
/// Holds the current runtime snapshot and swaps in a new one atomically. The snapshot serves two sources of models:
/// the config file's (replaced by <see cref="Swap"/> on a reload) and the database's (replaced by
/// <see cref="SwapStored"/> when a model is added, changed or removed through the API); each swap keeps the other's.
/// </summary>
internal sealed class RuntimeHolder
{
    private readonly RuntimeBuilder _builder;
    private readonly Lock _gate = new();
    private GatewayOptions _configured;
    private ImmutableArray<DeploymentOptions> _stored = [];
    private volatile GatewayRuntime _current;

    public RuntimeHolder(RuntimeBuilder builder, GatewayOptions initial)
    {
        _builder = builder;
        _configured = initial;
        _current = builder.Build(initial);
    }

    public GatewayRuntime Current => _current;

    /// <summary>The config file's options, without the database's models.</summary>
    public GatewayOptions Configured => _configured;

    /// <summary>A new configuration (a reload): the database's models stay.</summary>
    public GatewayRuntime Swap(GatewayOptions options)
    {
        GatewayRuntime swapped;
        lock (_gate)
        {
            _configured = options;
            swapped = Publish();
        }
        Reconfigured?.Invoke(swapped);
        return swapped;
    }

    /// <summary>
    /// Raised after a new configuration was swapped in (not for database model changes), outside the lock: what reads
    /// its own files from the configuration (routing policies) reloads them.
    /// </summary>
    public event Action<GatewayRuntime>? Reconfigured;

    /// <summary>
    /// The database's models, validated; they are served beside the config file's. One whose id the config file uses
    /// is left out (the file wins; the API refuses such an id, so only a later reload can cause it).
    /// </summary>
    public GatewayRuntime SwapStored(ImmutableArray<DeploymentOptions> stored)
    {
        lock (_gate)
        {
            _stored = stored;
            return Publish();
        }
    }

    private GatewayRuntime Publish()
    {
        var options = _configured;
        if (_stored.Length > 0 && options.StoreModelInDb)
        {
            var fileIds = options.Deployments.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
            var stored = _stored.Where(d => !fileIds.Contains(d.Id)).ToArray();
            options = options with { Deployments = options.Deployments.AddRange(stored) };
            var next = _builder.Build(options, stored.Select(d => d.Id).ToFrozenSet());
            _current = next;
            return next;
        }
        var built = _builder.Build(options);
        _current = built;
        return built;
    }
}
