using System.Text.Json;

namespace AgenticGateway.Tests.Clients;

/// <summary>
/// LangChain's <c>ChatOpenAI({useResponsesApi: true, configuration: {baseURL}})</c> (Clients/node/langchain.mjs)
/// against the gateway, native and translated: invoke, stream, and a bound tool with its result sent back.
/// </summary>
[Trait("Category", "integration")]
public class LangChainTests(ResponsesDeployments deployments) : IClassFixture<ResponsesDeployments>
{
    private Task<JsonElement> RunAsync(string scenario, string model) => deployments.RunAsync("langchain.mjs", scenario, model);

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Invoke(string model)
    {
        var message = await RunAsync("invoke", model);
        Assert.False(string.IsNullOrWhiteSpace(message.GetProperty("text").GetString()));
        Assert.StartsWith("resp_", message.GetProperty("responseId").GetString());
        Assert.Equal("completed", message.GetProperty("status").GetString());
        AssertUsage(message.GetProperty("usage"));
        Assert.Equal(0, message.GetProperty("toolCalls").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Stream(string model)
    {
        var result = await RunAsync("stream", model);
        var chunks = result.GetProperty("chunks").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.True(chunks.Count(c => !string.IsNullOrEmpty(c)) > 1, result.GetRawText());
        var text = result.GetProperty("text").GetString();
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text, string.Concat(chunks));
        Assert.StartsWith("resp_", result.GetProperty("responseId").GetString());
        AssertUsage(result.GetProperty("usage"));
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task A_bound_tool_and_its_result(string model)
    {
        var result = await RunAsync("tools", model);
        var call = Assert.Single(result.GetProperty("first").GetProperty("toolCalls").EnumerateArray());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("Paris", call.GetProperty("args").GetProperty("city").GetString());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("id").GetString()));
        var second = result.GetProperty("second");
        Assert.Equal(JsonValueKind.Object, second.ValueKind);
        Assert.Contains("Tool result: 22 C and sunny", second.GetProperty("text").GetString());
        Assert.Equal(0, second.GetProperty("toolCalls").GetArrayLength());
    }

    private static void AssertUsage(JsonElement usage)
    {
        var input = usage.GetProperty("input_tokens").GetInt32();
        var output = usage.GetProperty("output_tokens").GetInt32();
        Assert.True(input > 0 && output > 0, usage.GetRawText());
        Assert.Equal(input + output, usage.GetProperty("total_tokens").GetInt32());
    }
}
