using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Routing;

namespace AgenticGateway.Runtime;

/// <summary>
/// An immutable snapshot of everything a request needs: options, the model catalog with its deployments, and the
/// master key's hash. A reload builds a new snapshot; requests in flight keep the one they started with.
/// </summary>
internal sealed class GatewayRuntime(GatewayOptions options, ModelCatalog catalog)
{
    public GatewayOptions Options { get; } = options;
    public ModelCatalog Catalog { get; } = catalog;
    public RouterOptions Router => Options.Router;

    /// <summary>SHA-256 of the master key, compared in constant time; null when auth is off.</summary>
    public byte[]? MasterKeyHash { get; } = options.MasterKey.IsSet ? SHA256.HashData(Encoding.UTF8.GetBytes(options.MasterKey.Value!)) : null;

    /// <summary>Ids of the deployments stored in the database (LiteLLM's db_model), served beside the config file's.</summary>
    public System.Collections.Frozen.FrozenSet<string> StoredIds { get; init; } = System.Collections.Frozen.FrozenSet<string>.Empty;

    public IEnumerable<Deployment> AllDeployments => Catalog.Groups.SelectMany(g => g.Deployments);
}
