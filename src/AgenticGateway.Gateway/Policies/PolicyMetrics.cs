using System.Diagnostics.Metrics;

namespace AgenticGateway.Policies;

/// <summary>
/// Routing policy metrics: <c>agw_policy_evaluations_total{decision}</c> (allow, deny, dry_run),
/// <c>agw_policy_evaluation_seconds</c>, <c>agw_policy_reloads_total{result}</c> and the <c>agw_policies_loaded</c> gauge.
/// Labels are fixed words, never policy text or request data.
/// </summary>
internal sealed class PolicyMetrics
{
    private readonly Counter<long> _evaluations;
    private readonly Histogram<double> _evaluationSeconds;
    private readonly Counter<long> _reloads;
    private int _loaded;

    public PolicyMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        _evaluations = meter.CreateCounter<long>("agw.policy.evaluations", "{evaluation}", "Routing policy evaluations by decision (allow, deny, dry_run).");
        _evaluationSeconds = meter.CreateHistogram<double>("agw.policy.evaluation", "s", "Time the routing policies took to judge a model group's candidates.");
        _reloads = meter.CreateCounter<long>("agw.policy.reloads", "{reload}", "Routing policy reloads by result (success, error).");
        meter.CreateObservableGauge("agw.policies.loaded", () => Volatile.Read(ref _loaded), "{policy}", "Routing policies loaded.");
    }

    public void Evaluated(string decision, long elapsedTicks)
    {
        if (_evaluations.Enabled) _evaluations.Add(1, new KeyValuePair<string, object?>("decision", decision));
        if (_evaluationSeconds.Enabled) _evaluationSeconds.Record(System.Diagnostics.Stopwatch.GetElapsedTime(0, elapsedTicks).TotalSeconds);
    }

    public void Reloaded(bool succeeded, int loaded)
    {
        if (_reloads.Enabled) _reloads.Add(1, new KeyValuePair<string, object?>("result", succeeded ? "success" : "error"));
        if (succeeded) Volatile.Write(ref _loaded, loaded);
    }

    public void Unloaded() => Volatile.Write(ref _loaded, 0);
}
