using System.Globalization;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// Timing and fault settings for one emulated request: defaults from config, overridden per request by the
/// headers <c>x-mock-latency-ms</c>, <c>x-mock-ttft-ms</c>, <c>x-mock-tokens-per-second</c>, <c>x-mock-fault</c>
/// or the body field <c>mock_fault</c>.
/// </summary>
internal readonly record struct MockSettings(TimeSpan Latency, TimeSpan TimeToFirstToken, double TokensPerSecond, string? Fault)
{
    public static MockSettings From(MockDeploymentOptions? options) =>
        options is null ? default : new(options.Latency, options.TimeToFirstToken, options.TokensPerSecond, options.Fault);

    public MockSettings WithHeaders(IMockExchange exchange)
    {
        var s = this;
        if (Ms(exchange.RequestHeader("x-mock-latency-ms")) is { } latency) s = s with { Latency = latency };
        if (Ms(exchange.RequestHeader("x-mock-ttft-ms")) is { } ttft) s = s with { TimeToFirstToken = ttft };
        if (double.TryParse(exchange.RequestHeader("x-mock-tokens-per-second"), NumberStyles.Float, CultureInfo.InvariantCulture, out var tps) && tps >= 0)
            s = s with { TokensPerSecond = tps };
        if (exchange.RequestHeader("x-mock-fault") is { Length: > 0 } fault) s = s with { Fault = fault };
        return s;
    }

    private static TimeSpan? Ms(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms >= 0 ? TimeSpan.FromMilliseconds(ms) : null;
}
