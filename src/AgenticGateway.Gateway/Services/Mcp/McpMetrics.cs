using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// MCP instruments on the gateway's meter (so /metrics exports them: mcp_tool_calls_total, mcp_tool_call_duration_seconds).
/// Labels are bounded by config: server and tool names the upstreams serve, and the outcome.
/// </summary>
internal sealed class McpMetrics
{
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _latency;

    public McpMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        _calls = meter.CreateCounter<long>("mcp.tool.calls", "{call}", "MCP tool calls by server, tool and outcome (ok, tool_error, refused, timeout, too_large, unavailable, protocol_error).");
        _latency = meter.CreateHistogram<double>("mcp.tool.call.duration", "s", "Time an MCP tool call took at its server.");
    }

    public void Call(string server, string tool, string outcome, double elapsedMs)
    {
        var tags = new TagList { { "server", server }, { "tool", tool }, { "outcome", outcome } };
        _calls.Add(1, tags);
        if (outcome is not "refused") _latency.Record(elapsedMs / 1000, new TagList { { "server", server }, { "tool", tool } });
    }
}
