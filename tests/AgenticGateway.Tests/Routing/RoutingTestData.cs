using AgenticGateway.Configuration;
using AgenticGateway.Providers;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Routing;

internal static class RoutingTestData
{
    /// <summary>A pick whose probe flag the test does not need.</summary>
    public static int PickOne(this ModelGroup group, ulong tried, RoutingInput input, long nowTicks) => group.Pick(tried, input, nowTicks, out _);

    private static readonly HttpMessageInvoker Unused = new(new HttpClientHandler());

    public static Deployment Deployment(string id, double? weight = null, long? rpm = null, decimal? inputCost = null, decimal? outputCost = null, long? tpm = null)
    {
        ProviderCatalog.TryGet("openai", out var provider);
        var options = new DeploymentOptions
        {
            Id = id,
            ModelName = "group",
            Provider = "openai",
            Model = id,
            ApiBase = new Uri("http://127.0.0.1:1/v1"),
            Weight = weight,
            Rpm = rpm,
            Tpm = tpm,
            Price = inputCost is null && outputCost is null ? null : new AgenticGateway.Pricing.ModelPrice { InputPerToken = inputCost ?? 0, OutputPerToken = outputCost ?? 0 },
        };
        return new Deployment(options, provider, Unused, new DeploymentState());
    }

    public static Dictionary<string, int> Count(ModelGroup group, int picks, bool stream = false)
    {
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < picks; i++)
        {
            var index = group.PickOne(0, new RoutingInput(stream, 1), DateTime.UtcNow.Ticks);
            var id = group.Deployments[index].Id;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }
        return counts;
    }
}
