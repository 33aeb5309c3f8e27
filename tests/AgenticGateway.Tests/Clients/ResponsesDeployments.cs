using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Clients;

/// <summary>
/// The provider emulator and a gateway with the two ways a model serves the Responses API: <see cref="Native"/>, an
/// OpenAI deployment whose /v1/responses the gateway passes the request to, and <see cref="Translated"/>, an Anthropic
/// deployment the gateway converts to (chat, then Messages) and back. One per test class, shared by its tests.
/// </summary>
public sealed class ResponsesDeployments : IAsyncLifetime
{
    public const string Native = "gpt-native";
    public const string Translated = "claude";
    public const string MasterKey = "sk-gateway-master";
    private const string ProviderKey = "test-provider-key";

    /// <summary>Time for one Node client run; the scenarios make at most three requests to the emulator.</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    public static TheoryData<string> Models => new() { Native, Translated };

    internal EmulatorServer Upstream { get; private set; } = null!;
    internal GatewayServer Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await EmulatorServer.StartAsync(apiKey: ProviderKey);
        Gateway = await GatewayServer.StartAsync(Config(Upstream.Url));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    internal static string Config(string emulatorUrl) => $"""
        master_key: {MasterKey}
        models:
          - {"{"}name: {Native}, provider: openai, model: gpt-4o, api_base: "{emulatorUrl}/v1", api_key: {ProviderKey}{"}"}
          - {"{"}name: {Translated}, provider: anthropic, model: claude-sonnet-4-5, api_base: "{emulatorUrl}", api_key: {ProviderKey}{"}"}
        router:
          num_retries: 0
        """;

    /// <summary>
    /// Runs one scenario of a script in Clients/node against <paramref name="model"/> and returns its JSON answer;
    /// a run that fails (the client threw) fails the test with what the client saw: the HTTP status and error body.
    /// </summary>
    internal async Task<JsonElement> RunAsync(string script, string scenario, string model)
    {
        var run = await NodeProject.Clients.RunAsync(script, [scenario], RunTimeout, new Dictionary<string, string>
        {
            ["GATEWAY_URL"] = Gateway.Url,
            ["GATEWAY_KEY"] = MasterKey,
            ["GATEWAY_MODEL"] = model,
            // LangChain would send traces to LangSmith if the machine's environment asked it to.
            ["LANGSMITH_TRACING"] = "false",
            ["LANGCHAIN_TRACING_V2"] = "false",
        });
        if (run.ExitCode != 0)
            Assert.Fail($"{script} {scenario} on {model} failed:\n{run}");
        return run.Json;
    }

    /// <summary>The last request the emulator received, with its path and parsed JSON body.</summary>
    internal (string Path, JsonElement Body) LastUpstreamRequest()
    {
        var request = Upstream.Engine.LastRequest ?? throw new InvalidOperationException("the emulator has received no request");
        using var document = JsonDocument.Parse(request.Body);
        return (request.Path, document.RootElement.Clone());
    }
}
