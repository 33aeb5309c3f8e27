using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// The other sandbox hosts, when there are several (<c>sandboxes.hosts</c>): admission counted across all of them, and
/// every sandbox recorded with the host that runs it. The manager calls it; the gateway implements it over Redis.
/// </summary>
internal interface ISandboxCluster
{
    /// <summary>
    /// Counts sandbox <paramref name="id"/> against the quotas every host shares (the owner's sandboxes at once, the
    /// runtime's max_total) and this host's own capacity, or says which one refuses it.
    /// </summary>
    ValueTask<ApiError?> AdmitAsync(string owner, string id, string runtime, int hostActive, CancellationToken cancellationToken);

    /// <summary>Takes back an admission whose sandbox never started.</summary>
    ValueTask WithdrawAsync(string owner, string id, string runtime);

    /// <summary>The sandbox runs here now: other hosts may route its calls to this one.</summary>
    ValueTask StartedAsync(Sandbox sandbox);

    /// <summary>The sandbox has ended: no longer counted, no longer routed here.</summary>
    ValueTask EndedAsync(Sandbox sandbox);

    /// <summary>The sandbox is paused here: no longer counted, still routed here (its state is on this host's disk, to resume).</summary>
    ValueTask PausedAsync(Sandbox sandbox);
}
