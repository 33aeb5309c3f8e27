using AgenticGateway.Configuration;
using AgenticGateway.Providers;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Pricing;

internal static class PricingTestData
{
    private static readonly HttpMessageInvoker Unused = new(new HttpClientHandler());
    private static readonly Dictionary<string, string> NoEnv = new();

    public static Deployment Deployment(DeploymentOptions options)
    {
        Assert.True(ProviderCatalog.TryGet(options.Provider, out var provider));
        return new Deployment(options, provider, Unused, new DeploymentState());
    }

    public static Deployment Deployment(string name, string model, decimal? inputCost = null, decimal? outputCost = null) => Deployment(new DeploymentOptions
    {
        Id = name + "/" + model,
        ModelName = name,
        Provider = "openai",
        Model = model,
        ApiBase = new Uri("http://127.0.0.1:1/v1"),
        Price = inputCost is null && outputCost is null ? null : new AgenticGateway.Pricing.ModelPrice { InputPerToken = inputCost ?? 0, OutputPerToken = outputCost ?? 0 },
    });

    public static GatewayOptions Load(string yaml)
    {
        var result = ConfigLoader.Load(yaml, "test.yaml", NoEnv);
        Assert.Empty(result.Errors);
        return result.Options!;
    }
}
