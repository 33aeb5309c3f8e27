using System.Text.Json;

namespace AgenticGateway.Tests.Clients;

/// <summary>
/// The official openai Node SDK's Responses API (Clients/node/openai.mjs) against the gateway, on a deployment that
/// serves Responses natively and on a translated one: create, tools with previous_response_id, the raw stream, the
/// responses.stream helper, retrieve, inputItems.list and delete.
/// </summary>
[Trait("Category", "integration")]
public class OpenAiNodeSdkTests(ResponsesDeployments deployments) : IClassFixture<ResponsesDeployments>
{
    private Task<JsonElement> RunAsync(string scenario, string model) => deployments.RunAsync("openai.mjs", scenario, model);

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Create_a_text_response(string model)
    {
        var response = await RunAsync("create-text", model);
        ClientAssert.CompletedResponse(response);
        var message = Assert.Single(response.GetProperty("output").EnumerateArray());
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("completed", message.GetProperty("status").GetString());
        Assert.StartsWith("msg_", message.GetProperty("id").GetString());
        var part = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("output_text", part.GetProperty("type").GetString());
        // The SDK's output_text is the text of the output_text parts.
        Assert.Equal(part.GetProperty("text").GetString(), response.GetProperty("output_text").GetString());
        Assert.False(string.IsNullOrWhiteSpace(response.GetProperty("output_text").GetString()));
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Instructions_and_max_output_tokens_reach_the_provider(string model)
    {
        var response = await RunAsync("create-instructions", model);
        ClientAssert.CompletedResponse(response);
        Assert.Equal("Answer like a pirate.", response.GetProperty("instructions").GetString());

        var (path, sent) = deployments.LastUpstreamRequest();
        if (model == ResponsesDeployments.Native)
        {
            Assert.Equal("/v1/responses", path);
            Assert.Equal("Answer like a pirate.", sent.GetProperty("instructions").GetString());
            Assert.Equal(50, sent.GetProperty("max_output_tokens").GetInt32());
        }
        else
        {
            Assert.Equal("/v1/messages", path);
            Assert.Contains("Answer like a pirate.", sent.GetProperty("system").GetRawText());
            Assert.Equal(50, sent.GetProperty("max_tokens").GetInt32());
        }
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task A_function_call_and_its_output_by_previous_response_id(string model)
    {
        var result = await RunAsync("function-call", model);
        var first = result.GetProperty("first");
        ClientAssert.CompletedResponse(first);
        var call = first.GetProperty("output").EnumerateArray().Single(i => i.GetProperty("type").GetString() == "function_call");
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.StartsWith("fc_", call.GetProperty("id").GetString());
        Assert.Equal("completed", call.GetProperty("status").GetString());
        var callId = call.GetProperty("call_id").GetString();
        Assert.False(string.IsNullOrEmpty(callId));
        using (var arguments = JsonDocument.Parse(call.GetProperty("arguments").GetString()!))
            Assert.Equal("Paris", arguments.RootElement.GetProperty("city").GetString());

        var second = result.GetProperty("second");
        Assert.Equal(JsonValueKind.Object, second.ValueKind);
        ClientAssert.CompletedResponse(second);
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("previous_response_id").GetString());
        Assert.Contains("Tool result: 22 C and sunny", second.GetProperty("output_text").GetString());

        // The provider saw the whole conversation: the stored turn expanded before the function's output.
        var (path, sent) = deployments.LastUpstreamRequest();
        if (model == ResponsesDeployments.Native)
        {
            Assert.Equal("/v1/responses", path);
            Assert.False(sent.TryGetProperty("previous_response_id", out var previous) && previous.ValueKind != JsonValueKind.Null);
            var input = sent.GetProperty("input").EnumerateArray().ToList();
            Assert.Contains("mock_tool_call", input[0].GetRawText());
            var sentCall = input.Single(i => i.TryGetProperty("type", out var t) && t.GetString() == "function_call");
            Assert.Equal(callId, sentCall.GetProperty("call_id").GetString());
            var sentOutput = input[^1];
            Assert.Equal("function_call_output", sentOutput.GetProperty("type").GetString());
            Assert.Equal(callId, sentOutput.GetProperty("call_id").GetString());
            Assert.True(input.IndexOf(sentCall) < input.Count - 1);
        }
        else
        {
            Assert.Equal("/v1/messages", path);
            var messages = sent.GetProperty("messages").EnumerateArray().ToList();
            Assert.Equal(["user", "assistant", "user"], messages.Select(m => m.GetProperty("role").GetString()));
            Assert.Contains("mock_tool_call", messages[0].GetRawText());
            var use = messages[1].GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
            Assert.Equal("get_weather", use.GetProperty("name").GetString());
            var toolResult = messages[2].GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_result");
            Assert.Equal(use.GetProperty("id").GetString(), toolResult.GetProperty("tool_use_id").GetString());
            Assert.Contains("22 C and sunny", toolResult.GetRawText());
        }
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Stream_events_in_the_documented_order(string model)
    {
        var result = await RunAsync("stream", model);
        var events = result.GetProperty("events").EnumerateArray().ToList();
        var types = events.Select(e => e.GetProperty("type").GetString()!).ToList();

        // One text message: the lifecycle events around the item's, each delta inside its content part.
        var deltas = types.Count(t => t == "response.output_text.delta");
        Assert.True(deltas > 0, string.Join(", ", types));
        List<string> expected =
        [
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            .. Enumerable.Repeat("response.output_text.delta", deltas),
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
        ];
        Assert.Equal(expected, types);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));

        // Every item event names the one message item, at output_index 0 and content_index 0.
        var final = result.GetProperty("final");
        var itemId = final.GetProperty("output")[0].GetProperty("id").GetString();
        foreach (var e in events.Where(e => e.GetProperty("type").GetString()!.StartsWith("response.output_", StringComparison.Ordinal)
                                         || e.GetProperty("type").GetString()!.StartsWith("response.content_part.", StringComparison.Ordinal)))
        {
            Assert.Equal(itemId, e.GetProperty("item_id").GetString());
            Assert.Equal(0, e.GetProperty("output_index").GetInt32());
        }

        var text = string.Concat(events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text, events.Single(e => e.GetProperty("type").GetString() == "response.output_text.done").GetProperty("text").GetString());
        Assert.Equal(text, final.GetProperty("text").GetString());

        var created = result.GetProperty("created");
        Assert.Equal("in_progress", created.GetProperty("status").GetString());
        Assert.Equal(0, created.GetProperty("output").GetArrayLength());
        Assert.Equal(created.GetProperty("id").GetString(), final.GetProperty("id").GetString());
        ClientAssert.CompletedResponse(final);
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task The_stream_helper_builds_the_final_response(string model)
    {
        var result = await RunAsync("stream-helper", model);
        var final = result.GetProperty("final");
        ClientAssert.CompletedResponse(final);
        var deltas = result.GetProperty("deltas").EnumerateArray().Select(d => d.GetString()).ToList();
        Assert.NotEmpty(deltas);
        Assert.Equal(string.Concat(deltas), final.GetProperty("text").GetString());
        Assert.Equal(final.GetProperty("text").GetString(), final.GetProperty("output_text").GetString());
        var types = result.GetProperty("types").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal("response.created", types[0]);
        Assert.Equal("response.completed", types[^1]);
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Retrieve_a_stored_response(string model)
    {
        var result = await RunAsync("retrieve", model);
        var created = result.GetProperty("created");
        var retrieved = result.GetProperty("retrieved");
        ClientAssert.CompletedResponse(retrieved);
        Assert.Equal(created.GetProperty("id").GetString(), retrieved.GetProperty("id").GetString());
        Assert.Equal(created.GetProperty("created_at").GetInt64(), retrieved.GetProperty("created_at").GetInt64());
        Assert.Equal(created.GetProperty("output_text").GetString(), retrieved.GetProperty("text").GetString());
        Assert.Equal(created.GetProperty("output").GetRawText(), retrieved.GetProperty("output").GetRawText());
        Assert.Equal(created.GetProperty("usage").GetRawText(), retrieved.GetProperty("usage").GetRawText());
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task List_the_input_items_newest_first_and_by_pages(string model)
    {
        var result = await RunAsync("input-items", model);
        var page = result.GetProperty("page");
        Assert.Equal("list", page.GetProperty("object").GetString());
        Assert.False(page.GetProperty("has_more").GetBoolean());
        var data = page.GetProperty("data").EnumerateArray().ToList();
        // order defaults to desc: the last input item first.
        Assert.Equal(["Second question", "First answer", "First question"], data.Select(i => i.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(["user", "assistant", "user"], data.Select(i => i.GetProperty("role").GetString()));
        Assert.All(data, i => Assert.Equal("message", i.GetProperty("type").GetString()));
        Assert.Equal("input_text", data[0].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("input_text", data[2].GetProperty("content")[0].GetProperty("type").GetString());
        var ids = data.Select(i => i.GetProperty("id").GetString()).ToList();
        Assert.All(ids, id => Assert.False(string.IsNullOrEmpty(id)));
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(ids[0], page.GetProperty("first_id").GetString());
        Assert.Equal(ids[^1], page.GetProperty("last_id").GetString());

        // order: asc, two a page: the SDK follows has_more with after=<last id> to the end.
        var ascending = result.GetProperty("ascending").EnumerateArray().Select(i => i.GetProperty("id").GetString()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), ascending);
    }

    [Theory]
    [MemberData(nameof(ResponsesDeployments.Models), MemberType = typeof(ResponsesDeployments))]
    public async Task Delete_a_stored_response(string model)
    {
        var result = await RunAsync("delete", model);
        var id = result.GetProperty("id").GetString();
        var deleted = result.GetProperty("deleted");
        Assert.Equal(200, deleted.GetProperty("status").GetInt32());
        var body = deleted.GetProperty("body");
        Assert.Equal(id, body.GetProperty("id").GetString());
        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.True(body.GetProperty("deleted").GetBoolean());

        foreach (var after in new[] { "retrieveAfter", "deleteAgain" })
        {
            var answer = result.GetProperty(after);
            Assert.Equal(404, answer.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(answer.GetProperty("body").GetProperty("message").GetString()), after);
        }
    }
}
