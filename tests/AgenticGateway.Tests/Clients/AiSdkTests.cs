using System.Text.Json;

namespace AgenticGateway.Tests.Clients;

/// <summary>
/// The AI SDK's default OpenAI provider (<c>createOpenAI({baseURL, apiKey})(model)</c>, which speaks the Responses
/// API; Clients/node/ai-sdk.mjs) against the gateway, native and translated: generateText, streamText, and a tool the
/// SDK runs between two steps.
/// </summary>
[Trait("Category", "integration")]
public class AiSdkTests(ResponsesDeployments deployments) : IClassFixture<ResponsesDeployments>
{
    private Task<JsonElement> RunAsync(string scenario, string model) => deployments.RunAsync("ai-sdk.mjs", scenario, model);

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Generate_text(string model)
    {
        var result = await RunAsync("generate-text", model);
        Assert.False(string.IsNullOrWhiteSpace(result.GetProperty("text").GetString()));
        Assert.Equal("stop", result.GetProperty("finishReason").GetString());
        AssertUsage(result.GetProperty("usage"));
        Assert.StartsWith("resp_", result.GetProperty("responseId").GetString());
        // A warning means the SDK dropped or could not read something the gateway sent or expected.
        Assert.Equal(0, result.GetProperty("warnings").GetArrayLength());
        Assert.Contains("Be brief.", deployments.LastUpstreamRequest().Body.GetRawText());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Stream_text(string model)
    {
        var result = await RunAsync("stream-text", model);
        var chunks = result.GetProperty("chunks").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.True(chunks.Count > 1, result.GetRawText());
        var text = result.GetProperty("text").GetString();
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text, string.Concat(chunks));
        Assert.Equal("stop", result.GetProperty("finishReason").GetString());
        AssertUsage(result.GetProperty("usage"));
        Assert.StartsWith("resp_", result.GetProperty("responseId").GetString());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task A_second_turn_refers_to_the_stored_first_answer(string model)
    {
        var result = await RunAsync("two-turns", model);
        var first = result.GetProperty("first");
        var firstText = first.GetProperty("text").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(firstText));
        // What makes the SDK send an item_reference: the answer's part carries its item id.
        var part = first.GetProperty("messages")[0].GetProperty("content")[0];
        Assert.StartsWith("msg_", part.GetProperty("providerOptions").GetProperty("openai").GetProperty("itemId").GetString());

        var second = result.GetProperty("second");
        Assert.False(string.IsNullOrWhiteSpace(second.GetProperty("text").GetString()));
        Assert.Equal("stop", second.GetProperty("finishReason").GetString());
        Assert.NotEqual(first.GetProperty("responseId").GetString(), second.GetProperty("responseId").GetString());

        var (_, sent) = deployments.LastUpstreamRequest();
        var strings = Strings(sent).ToList();
        // Resolved by the gateway, which stores responses itself (a native provider keeps nothing: store is false there):
        // the provider got the first answer's text in its place.
        if (model == ResponsesDeployments.Native) Assert.False(sent.GetProperty("store").GetBoolean(), sent.GetRawText());
        Assert.DoesNotContain("item_reference", strings);
        var order = new[] { "First question", firstText, "Second question" }
            .Select(text => strings.FindIndex(s => s.Contains(text, StringComparison.Ordinal))).ToList();
        Assert.True(order.All(i => i >= 0) && order[0] < order[1] && order[1] < order[2], sent.GetRawText());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task A_tool_the_sdk_executes_between_steps(string model)
    {
        var result = await RunAsync("tool-loop", model);
        var steps = result.GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal(2, steps.Count);
        Assert.Equal("tool-calls", steps[0].GetProperty("finishReason").GetString());
        var call = Assert.Single(steps[0].GetProperty("toolCalls").EnumerateArray());
        Assert.Equal("get_weather", call.GetProperty("toolName").GetString());
        Assert.Equal("Paris", call.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal("22 C and sunny", Assert.Single(steps[0].GetProperty("toolResults").EnumerateArray()).GetProperty("output").GetString());
        Assert.Equal("stop", steps[1].GetProperty("finishReason").GetString());
        Assert.Equal("stop", result.GetProperty("finishReason").GetString());
        Assert.Contains("Tool result: 22 C and sunny", result.GetProperty("text").GetString());
    }

    /// <summary>Every string value in a JSON document, in document order.</summary>
    private static IEnumerable<string> Strings(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => [element.GetString()!],
        JsonValueKind.Array => element.EnumerateArray().SelectMany(Strings),
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Strings(p.Value)),
        _ => [],
    };

    private static void AssertUsage(JsonElement usage)
    {
        var input = usage.GetProperty("inputTokens").GetInt32();
        var output = usage.GetProperty("outputTokens").GetInt32();
        Assert.True(input > 0 && output > 0, usage.GetRawText());
        Assert.Equal(input + output, usage.GetProperty("totalTokens").GetInt32());
    }
}
