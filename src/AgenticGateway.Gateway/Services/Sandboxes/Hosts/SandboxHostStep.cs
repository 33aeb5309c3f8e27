using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using Yarp.ReverseProxy.Forwarder;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>
/// The pipeline's step for several sandbox hosts, before authentication (the host that serves a call authenticates
/// it, once, and counts its limits once): a call on a sandbox another host runs is forwarded there; a create this
/// host has no room for goes to the least loaded live host; a call another host forwarded (signed, see
/// <see cref="HostSignature"/>) is served here and never forwarded again, and one with a bad signature is refused.
/// A gateway whose own sandboxes are off (<c>sandboxes.enabled: false</c>) but that has <c>sandboxes.hosts</c> is a
/// router: it places every create on a host and forwards every sandbox call.
/// Which calls are sandbox calls is read from their shape (<see cref="SandboxCalls"/>), so every surface over the
/// sandboxes is covered without its endpoints knowing of hosts.
/// </summary>
internal sealed class SandboxHostStep(RequestDelegate next, SandboxRegistry registry, SandboxManager manager, HostSignature signature, HostForwarder forwarder,
    HostMetrics metrics, ILogger<SandboxHostStep> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.TryGetValue(HostSignature.Header, out var signed))
        {
            if (signed.Count == 1 && signature.Verify(signed[0], request.Method, request.Path.Value + request.QueryString.Value)) return next(context);
            HostsLog.ForgedCall(logger, HostSignature.Header, context.Connection.RemoteIpAddress?.ToString());
            return PipelineErrors.WriteAsync(context, new ApiError(403, $"The {HostSignature.Header} header is for calls between sandbox hosts; this one is not valid.", "permission_error", "invalid_host_call"));
        }
        var (kind, id) = SandboxCalls.Classify(request);
        return kind switch
        {
            // Most calls are on a sandbox this host runs: answered from memory, without asking Redis.
            SandboxCallKind.Sandbox when manager.FindAny(id!) is null => RouteAsync(context, id!),
            SandboxCallKind.Create when manager.Unavailable is not null || (registry.Hosts.MaxSandboxes > 0 && manager.Active >= registry.Hosts.MaxSandboxes) => PlaceAsync(context),
            _ => next(context),
        };
    }

    private async Task RouteAsync(HttpContext context, string id)
    {
        if (!registry.IsUp)
        {
            // Without the registry a sandbox not here may be on another host: "not found" would be a lie.
            await PipelineErrors.WriteAsync(context, new ApiError(503, $"Sandbox '{SandboxHttp.Truncate(id)}' is not on this host, and the sandbox hosts' registry (Redis) is unreachable; try again shortly.",
                "service_unavailable", "sandbox_registry_unavailable") { RetryAfterSeconds = 1 });
            return;
        }
        var location = await registry.LocateAsync(id, context.RequestAborted);
        if (location is not { } at || at.Host == signature.Self)
        {
            // Unknown to every live host (ended, expired, its host dead for longer than the ttl, or not a sandbox id):
            // this host's own endpoint answers, with the surface's own "not found".
            await next(context);
            return;
        }
        await ForwardAsync(context, at.Host, at.Url, id);
    }

    private async Task PlaceAsync(HttpContext context)
    {
        HostEntry? best = null;
        foreach (var host in await registry.OtherHostsAsync(context.RequestAborted))
        {
            if (host.Capacity > 0 && host.Active >= host.Capacity) continue;
            if (best is null || Load(host) < Load(best)) best = host;
        }
        if (best is null)
        {
            // Nowhere with room: this host's own admission refuses the create, in the surface's own shape; a gateway
            // without sandboxes of its own (a router in front of the hosts) says so itself.
            if (manager.Unavailable is null) await next(context);
            else await PipelineErrors.WriteAsync(context, new ApiError(503, "No sandbox host is available (none is registered, or all are full); try again later.",
                "service_unavailable", "sandbox_capacity") { RetryAfterSeconds = 5 });
            return;
        }
        HostsLog.Placed(logger, best.Id, best.Active, manager.Unavailable is null ? registry.Hosts.MaxSandboxes : 0);
        await ForwardAsync(context, best.Id, best.Url, null);
    }

    /// <summary>How full a host is: its share of its capacity, or its count when it sets none.</summary>
    private static double Load(HostEntry host) => host.Capacity > 0 ? (double)host.Active / host.Capacity : host.Active;

    private async Task ForwardAsync(HttpContext context, string host, string url, string? id)
    {
        var error = await forwarder.SendAsync(context, host, url);
        // Answered: the host's answer went back, whatever its status (a stream cut midway counts as answered too).
        var unreachable = error is (ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.NoAvailableDestinations) && !context.Response.HasStarted;
        metrics.Forwarded(create: id is null, answered: !unreachable);
        if (error == ForwarderError.None) return;
        // A client that leaves is not the other host's failure: only what the host itself did wrong is logged.
        if (unreachable || error is ForwarderError.RequestBodyDestination or ForwarderError.ResponseBodyDestination)
        {
            var failure = context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString();
            HostsLog.ForwardFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", host, url, failure);
        }
        // Once the host's answer has begun, the stream just ends; before, the client hears why, at once and in its API's shape.
        if (!unreachable) return;
        context.Response.Clear();
        // The host's name and address are for the log: the caller, not yet authenticated here, learns only that it is down.
        var what = id is null ? "The sandbox host chosen for this create" : $"The host that runs sandbox '{SandboxHttp.Truncate(id)}'";
        await PipelineErrors.WriteAsync(context, new ApiError(503, $"{what} is not reachable; try again shortly (a host that stays down is forgotten, with its sandboxes, within {registry.Hosts.Ttl.TotalSeconds:0} s).",
            "service_unavailable", "sandbox_host_unreachable") { RetryAfterSeconds = 2 });
    }
}
