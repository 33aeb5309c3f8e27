using AgenticGateway.Limits;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>
/// Renews this host's entries in the registry every <c>sandboxes.hosts.heartbeat</c>: the host itself (URL, load,
/// capacity), each sandbox it runs and each it keeps paused. A host that stops renewing (killed, cut off) is forgotten after the ttl, and
/// with it the routes to its sandboxes and their places in the shared quotas.
/// </summary>
internal sealed class HostHeartbeat(SandboxRegistry registry, SandboxManager manager, RedisConnection redis, TimeProvider time, ILogger<HostHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (manager.Unavailable is not null) return;
        var hosts = registry.Hosts;
        HostsLog.Registering(logger, hosts.Id, hosts.AdvertiseUrl.ToString(), hosts.Heartbeat, hosts.Ttl);
        // Until the first renewal lands (Redis connects in the background), tried again soon rather than a heartbeat later.
        var retry = TimeSpan.FromMilliseconds(Math.Min(250, hosts.Heartbeat.TotalMilliseconds));
        while (!stoppingToken.IsCancellationRequested)
        {
            var renewed = redis.IsUp && await TryRenewAsync();
            try { await Task.Delay(renewed ? hosts.Heartbeat : retry, time, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task<bool> TryRenewAsync()
    {
        try
        {
            await registry.RenewAsync([.. manager.All()], [.. manager.AllPaused()]);
            return true;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            redis.MarkDown(ex);
            HostsLog.RegistryWriteFailed(logger, "heartbeat", ex.Message);
            return false;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (manager.Unavailable is null) await registry.LeaveAsync();
    }
}
