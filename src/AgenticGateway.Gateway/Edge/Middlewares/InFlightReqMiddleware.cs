using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>inFlightReq</c>: at most <c>amount</c> requests of one source in progress at once (the Host by
/// default); one more is refused with 429 and oxy's text "max connections reached: N". An amount of 0 refuses every
/// request, as in Traefik.
/// </summary>
internal sealed class InFlightReqType : IEdgeMiddlewareType
{
    public string Name => "inFlightReq";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var amount = options.Long("amount", 0) ?? 0;
        var criterion = SourceCriterion.Read(options) ?? SourceCriterion.RequestHost;
        options.ReportUnknown();
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var gate = new Lock();
        var refusal = "max connections reached: " + amount.ToString(CultureInfo.InvariantCulture);

        return next => async http =>
        {
            var source = criterion.Extract(http);
            bool admitted;
            lock (gate)
            {
                counts.TryGetValue(source, out var current);
                admitted = current < amount;
                if (admitted) counts[source] = current + 1;
            }
            if (!admitted)
            {
                await TraefikText.StatusAsync(http, StatusCodes.Status429TooManyRequests, refusal);
                return;
            }
            try
            {
                await next(http);
            }
            finally
            {
                lock (gate)
                {
                    // The entry goes with its last request, so the table holds only sources in flight.
                    if (counts[source] <= 1) counts.Remove(source);
                    else counts[source]--;
                }
            }
        };
    }
}
