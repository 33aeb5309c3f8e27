using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AgenticGateway.Observability;

/// <summary>
/// The gateway's instruments, created through <see cref="IMeterFactory"/>. Names use dots; the Prometheus
/// exporter turns them into <c>llm_provider_requests_total</c> and so on. Labels are bounded: model groups,
/// deployments and providers from config, never keys or request ids.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = Telemetry.TelemetryNames.Meter;

    private readonly Counter<long> _providerRequests;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _providerErrors;
    private readonly Histogram<double> _providerLatency;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _overhead;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _refused;
    private readonly Counter<double> _cost;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _providerRequests = meter.CreateCounter<long>("llm.provider.requests", "{request}", "Attempts sent to providers.");
        _providerErrors = meter.CreateCounter<long>("llm.provider.errors", "{error}", "Failed provider attempts by error class.");
        _providerLatency = meter.CreateHistogram<double>("llm.provider.latency", "s", "Provider response time (to full body, or to the end of a stream).");
        _timeToFirstToken = meter.CreateHistogram<double>("llm.time_to_first_token", "s", "Time from request to the first streamed chunk.");
        _tokens = meter.CreateCounter<long>("llm.tokens", "{token}", "Tokens by direction (input, output).");
        _overhead = meter.CreateHistogram<double>("gateway.overhead", "s", "Time the gateway itself added to a request.");
        _retries = meter.CreateCounter<long>("llm.retries", "{retry}", "Retries within a model group.");
        _fallbacks = meter.CreateCounter<long>("llm.fallbacks", "{fallback}", "Fallbacks to another model group.");
        _refused = meter.CreateCounter<long>("gateway.refused", "{request}", "Requests refused at admission, by reason (rate limit, budget, parallel limit).");
        _rateLimited = meter.CreateCounter<long>("llm.rate_limit_exceeded", "{request}", "Requests refused by a rate limit, by whose limit (key, user, team) and which (rpm, tpm, tpd, parallel).");
        // The unit is in the name because the exporter only appends units for seconds: llm_cost_usd_total.
        _cost = meter.CreateCounter<double>("llm.cost.usd", "USD", "What requests cost in US dollars, priced as in their spend logs.");
    }

    public void ProviderAttempt(string provider, string model, string deployment, double seconds, string outcome)
    {
        if (_providerRequests.Enabled) _providerRequests.Add(1, new("provider", provider), new("model", model), new("deployment", deployment), new("outcome", outcome));
        if (_providerLatency.Enabled) _providerLatency.Record(seconds, new("provider", provider), new("model", model), new("deployment", deployment));
    }

    public void ProviderError(string provider, string model, string deployment, string errorClass)
    {
        if (_providerErrors.Enabled) _providerErrors.Add(1, new("provider", provider), new("model", model), new("deployment", deployment), new("error_class", errorClass));
    }

    public void TimeToFirstToken(string provider, string model, double seconds)
    {
        if (_timeToFirstToken.Enabled) _timeToFirstToken.Record(seconds, new("provider", provider), new("model", model));
    }

    public void Tokens(string provider, string model, long input, long output)
    {
        if (!_tokens.Enabled) return;
        if (input > 0) _tokens.Add(input, new("provider", provider), new("model", model), new("direction", "input"));
        if (output > 0) _tokens.Add(output, new("provider", provider), new("model", model), new("direction", "output"));
    }

    public void Cost(string provider, string model, decimal dollars)
    {
        if (dollars > 0 && _cost.Enabled) _cost.Add((double)dollars, new("provider", provider), new("model", model));
    }

    public void Overhead(string route, double seconds)
    {
        if (_overhead.Enabled) _overhead.Record(seconds, new KeyValuePair<string, object?>("route", route));
    }

    public void Retry(string model)
    {
        if (_retries.Enabled) _retries.Add(1, new KeyValuePair<string, object?>("model", model));
    }

    public void Refused(string reason)
    {
        if (_refused.Enabled) _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void RateLimited(string scope, string limit)
    {
        if (_rateLimited.Enabled) _rateLimited.Add(1, new("scope", scope), new("limit", limit));
    }

    public void Fallback(string from, string to)
    {
        if (_fallbacks.Enabled) _fallbacks.Add(1, new("from", from), new("to", to));
    }

}
