using System.Collections.Concurrent;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B template builds requested (<c>POST /v3/templates</c>) and not started yet, by build id: the SDK uploads its
/// files in between. One per gateway process, shared by every mapping of the API (/e2b and the E2B host name).
/// </summary>
internal sealed class E2bPendingBuilds
{
    public ConcurrentDictionary<string, E2bTemplateEndpoints.Requested> Requested { get; } = new(StringComparer.Ordinal);
}
