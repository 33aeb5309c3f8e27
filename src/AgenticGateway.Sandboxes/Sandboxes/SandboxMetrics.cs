using System.Diagnostics.Metrics;

namespace AgenticGateway.Sandboxes;

/// <summary>Sandbox instruments (exported as sandbox_*); labels are runtimes, languages and reasons, never ids or owners.</summary>
internal sealed class SandboxMetrics
{
    private readonly Histogram<double> _create;
    private readonly Histogram<double> _acquire;
    private readonly Histogram<double> _exec;
    private readonly Counter<long> _ended;

    public SandboxMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.TelemetryNames.Meter);
        _create = meter.CreateHistogram<double>("sandbox.create.duration", "s", "Cold sandbox starts, from request to a ready agent and interpreter.");
        _acquire = meter.CreateHistogram<double>("sandbox.acquire.duration", "s", "Sandboxes taken from the warm pool, from request to ready.");
        _exec = meter.CreateHistogram<double>("sandbox.execute.duration", "s", "Code executions, from request to the end of the result.");
        _ended = meter.CreateCounter<long>("sandbox.ended", "{sandbox}", "Sandboxes ended, by reason (deleted, expired, oom, quota, exited, idle, unhealthy, shutdown).");
    }

    public void Created(string runtime, bool fromPool, double seconds)
    {
        var h = fromPool ? _acquire : _create;
        if (h.Enabled) h.Record(seconds, new KeyValuePair<string, object?>("runtime", runtime));
    }

    public void Executed(string language, double seconds)
    {
        if (_exec.Enabled) _exec.Record(seconds, new KeyValuePair<string, object?>("language", language));
    }

    public void Ended(string runtime, string reason)
    {
        if (_ended.Enabled) _ended.Add(1, new("runtime", runtime), new("reason", reason));
    }
}
