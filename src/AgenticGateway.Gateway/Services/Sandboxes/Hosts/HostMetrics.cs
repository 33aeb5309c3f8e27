using System.Diagnostics.Metrics;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>Sandbox calls sent to other hosts (exported as sandbox_host_forwards_total); labels are outcomes, never ids or hosts.</summary>
internal sealed class HostMetrics
{
    private readonly Counter<long> _forwards;

    public HostMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.TelemetryNames.Meter);
        _forwards = meter.CreateCounter<long>("sandbox.host.forwards", "{call}",
            "Sandbox calls sent to the host that runs the sandbox, and creates placed on another host, by kind (call, create) and result (answered, unreachable).");
    }

    public void Forwarded(bool create, bool answered)
    {
        if (_forwards.Enabled) _forwards.Add(1, new("kind", create ? "create" : "call"), new("result", answered ? "answered" : "unreachable"));
    }
}
