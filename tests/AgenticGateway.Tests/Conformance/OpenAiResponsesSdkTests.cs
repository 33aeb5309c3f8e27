using System.ClientModel;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Clients;
using OpenAI;
using OpenAI.Responses;

namespace AgenticGateway.Tests.Conformance;

// The SDK marks its Responses client experimental (OPENAI001); these tests exist to follow it as it is.
#pragma warning disable OPENAI001

/// <summary>
/// The official OpenAI .NET SDK's Responses client (OpenAI 2.15.0, <see cref="ResponsesClient"/>) against the
/// gateway's /v1/responses, on a deployment that serves Responses natively and on a translated one: create, stream,
/// retrieve, input items, delete, and a function call answered by previous_response_id.
/// </summary>
[Trait("Category", "functional")]
public class OpenAiResponsesSdkTests(ResponsesDeployments deployments) : IClassFixture<ResponsesDeployments>
{
    private const string WeatherParameters = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}""";
    private const string WeatherPrompt = "What is the weather in Paris?\nmock_tool_call: {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}";

    private readonly ResponsesClient _client = new OpenAIClient(
        new ApiKeyCredential(ResponsesDeployments.MasterKey),
        new OpenAIClientOptions { Endpoint = new Uri(deployments.Gateway.Url + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(30) })
        .GetResponsesClient();

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Create_a_response(string model)
    {
        ResponseResult response = await _client.CreateResponseAsync(new CreateResponseOptions(model, [ResponseItem.CreateUserMessageItem("Hello there!")])
        {
            Instructions = "Be brief.",
            MaxOutputTokenCount = 60,
        });
        AssertCompleted(response);
        var message = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal(MessageRole.Assistant, message.Role);
        Assert.StartsWith("msg_", message.Id);
        Assert.False(string.IsNullOrWhiteSpace(response.GetOutputText()));
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Stream_a_response(string model)
    {
        var updates = new List<StreamingResponseUpdate>();
        await foreach (var update in await _client.CreateResponseStreamingAsync(model, "Tell me a story.", previousResponseId: null))
            updates.Add(update);

        Assert.Equal(Enumerable.Range(0, updates.Count), updates.Select(u => u.SequenceNumber));
        var created = Assert.IsType<StreamingResponseCreatedUpdate>(updates[0]);
        Assert.IsType<StreamingResponseInProgressUpdate>(updates[1]);
        var completed = Assert.IsType<StreamingResponseCompletedUpdate>(updates[^1]);
        Assert.Equal(created.Response.Id, completed.Response.Id);
        AssertCompleted(completed.Response);

        var text = new StringBuilder();
        foreach (var delta in updates.OfType<StreamingResponseOutputTextDeltaUpdate>())
            text.Append(delta.Delta);
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        Assert.Equal(text.ToString(), Assert.Single(updates.OfType<StreamingResponseOutputTextDoneUpdate>()).Text);
        Assert.Equal(text.ToString(), completed.Response.GetOutputText());
        Assert.Single(updates.OfType<StreamingResponseOutputItemAddedUpdate>());
        Assert.Single(updates.OfType<StreamingResponseOutputItemDoneUpdate>());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Retrieve_list_input_items_and_delete(string model)
    {
        ResponseResult created = await _client.CreateResponseAsync(model, "Hello there!", previousResponseId: null);
        AssertCompleted(created);

        ResponseResult retrieved = await _client.GetResponseAsync(created.Id);
        AssertCompleted(retrieved);
        Assert.Equal(created.Id, retrieved.Id);
        Assert.Equal(created.GetOutputText(), retrieved.GetOutputText());
        Assert.Equal(created.CreatedAt, retrieved.CreatedAt);

        var items = new List<ResponseItem>();
        await foreach (var item in _client.GetResponseInputItemsAsync(new ResponseItemCollectionOptions(created.Id)))
            items.Add(item);
        var input = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(items));
        Assert.Equal(MessageRole.User, input.Role);
        Assert.Equal("Hello there!", input.Content[0].Text);

        ResponseDeletionResult deleted = await _client.DeleteResponseAsync(created.Id);
        Assert.True(deleted.Deleted);
        Assert.Equal(created.Id, deleted.ResponseId);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => _client.GetResponseAsync(created.Id));
        Assert.Equal(404, missing.Status);
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task A_function_call_round_trip(string model)
    {
        var weather = ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(WeatherParameters), strictModeEnabled: true, "The weather in a city");
        ResponseResult first = await _client.CreateResponseAsync(new CreateResponseOptions(model, [ResponseItem.CreateUserMessageItem(WeatherPrompt)])
        {
            Tools = { weather },
        });
        AssertCompleted(first);
        var call = Assert.Single(first.OutputItems.OfType<FunctionCallResponseItem>());
        Assert.Equal("get_weather", call.FunctionName);
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
            Assert.Equal("Paris", arguments.RootElement.GetProperty("city").GetString());

        ResponseResult second = await _client.CreateResponseAsync(new CreateResponseOptions(model, [ResponseItem.CreateFunctionCallOutputItem(call.CallId, "22 C and sunny")])
        {
            PreviousResponseId = first.Id,
            Tools = { weather },
        });
        AssertCompleted(second);
        Assert.Equal(first.Id, second.PreviousResponseId);
        Assert.Contains("Tool result: 22 C and sunny", second.GetOutputText());
    }

    private static void AssertCompleted(ResponseResult response)
    {
        Assert.StartsWith("resp_", response.Id);
        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.Null(response.Error);
        Assert.True(response.Usage.InputTokenCount > 0);
        Assert.True(response.Usage.OutputTokenCount > 0);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
    }
}
