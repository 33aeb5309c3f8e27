using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Pricing;
using AgenticGateway.Responses;

namespace AgenticGateway.Tests.Responses;

/// <summary>Request conversion beyond the golden files: truncation, effort levels chat lacks, and the token estimate of a Responses body.</summary>
[Trait("Category", "unit")]
public class ResponsesToChatTests
{
    private static JsonObject Convert(string json, IReadOnlyList<JsonNode>? history = null, long window = 0)
    {
        Assert.Null(ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(json), out var request));
        Assert.Null(ResponsesToChat.Convert(request!, history ?? [], [], request!.Stream, out var body, window));
        return JsonNode.Parse(body)!.AsObject();
    }

    private static List<JsonNode> Turns(int count)
    {
        var history = new List<JsonNode>();
        for (var i = 0; i < count; i++)
        {
            history.Add(JsonNode.Parse($$"""{"type":"message","role":"user","content":"question {{i}} {{new string('q', 400)}}"}""")!);
            history.Add(JsonNode.Parse($$"""{"type":"function_call","call_id":"c{{i}}","name":"look","arguments":"{}"}""")!);
            history.Add(JsonNode.Parse($$"""{"type":"function_call_output","call_id":"c{{i}}","output":"{{new string('o', 400)}}"}""")!);
            history.Add(JsonNode.Parse($$"""{"type":"message","role":"assistant","content":"answer {{i}}"}""")!);
        }
        return history;
    }

    [Fact]
    public void Auto_truncation_drops_the_oldest_whole_turns_until_the_estimate_fits()
    {
        const string Body = """{"model":"m","instructions":"sys","truncation":"auto","input":"latest question"}""";
        var all = Convert(Body, Turns(10))["messages"]!.AsArray();
        Assert.Equal(1 + 40 + 1, all.Count);

        var cut = Convert(Body, Turns(10), window: 600)["messages"]!.AsArray();
        Assert.True(cut.Count < all.Count);
        Assert.Equal("system", cut[0]!["role"]!.GetValue<string>());
        // What is left starts at a user message, so no tool result lost its call.
        Assert.Equal("user", cut[1]!["role"]!.GetValue<string>());
        Assert.Equal("latest question", cut[^1]!["content"]!.GetValue<string>());
        Assert.True(TokenEstimator.CountTextTokens(cut.ToJsonString()) < 700);
        Assert.Contains("question 9", cut.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("question 0 ", cut.ToJsonString(), StringComparison.Ordinal);

        // disabled (the default) sends everything; the upstream answers an over-long prompt itself.
        Assert.Equal(all.Count, Convert("""{"model":"m","instructions":"sys","input":"latest question"}""", Turns(10), window: 600)["messages"]!.AsArray().Count);
        // The last turn stays even when it alone is too long.
        Assert.Equal(2, Convert(Body, Turns(10), window: 1)["messages"]!.AsArray().Count);
    }

    [Fact]
    public void Claudes_signed_thinking_goes_back_with_the_tool_call_it_preceded()
    {
        // The output of a Claude turn (thinking, then a tool call), continued with the tool's result: Anthropic checks
        // the thinking's signature, so the blocks must come back whole in the same assistant message as the call.
        var answer = ChatToResponses.FromCompletion(ResponsesInboundGoldenTests.Read("thinking_tool_use", "chat_response.json"), new ResponsesItemIds("resp_a"));
        List<JsonNode> history = [JsonNode.Parse("""{"type":"message","role":"user","content":"Weather in Paris?"}""")!, .. answer.Output.Select(i => i!.DeepClone())];
        var body = Convert("""{"model":"claude","previous_response_id":"resp_a","input":[{"type":"function_call_output","call_id":"toolu_01","output":"18 C"}]}""", history);
        var messages = body["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "tool"], messages.Select(m => m!["role"]!.GetValue<string>()));
        var assistant = messages[1]!;
        Assert.Equal("The user wants the weather.", assistant["reasoning_content"]!.GetValue<string>());
        Assert.Equal("EqQBCkYIBx", assistant["thinking_blocks"]![0]!["signature"]!.GetValue<string>());
        Assert.Equal("The user wants the weather.", assistant["thinking_blocks"]![0]!["thinking"]!.GetValue<string>());
        Assert.Equal("redacted_thinking", assistant["thinking_blocks"]![1]!["type"]!.GetValue<string>());
        Assert.Equal("toolu_01", assistant["tool_calls"]![0]!["id"]!.GetValue<string>());
        Assert.Equal("toolu_01", messages[2]!["tool_call_id"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("xhigh", "high")]
    [InlineData("max", "high")]
    [InlineData("minimal", "minimal")]
    [InlineData("none", "none")]
    public void Reasoning_effort_maps_onto_chats_scale(string effort, string expected) =>
        Assert.Equal(expected, Convert($$$"""{"model":"m","input":"hi","reasoning":{"effort":"{{{effort}}}"}}""")["reasoning_effort"]!.GetValue<string>());

    [Fact]
    public void Parallel_tool_calls_and_tool_choice_go_only_with_tools()
    {
        var body = Convert("""{"model":"m","input":"hi","parallel_tool_calls":false,"tool_choice":"none","metadata":{"a":"b"},"store":true}""");
        Assert.False(body.ContainsKey("parallel_tool_calls"));
        Assert.False(body.ContainsKey("tool_choice"));
        Assert.False(body.ContainsKey("metadata"));
        Assert.False(body.ContainsKey("store"));
    }

    [Fact]
    public void The_token_estimate_counts_a_responses_bodys_instructions_items_and_tools()
    {
        var bare = TokenEstimator.EstimatePromptTokens("""{"model":"m","input":"hi"}"""u8);
        var withInstructions = TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes($$"""{"model":"m","instructions":"{{new string('i', 400)}}","input":"hi"}"""));
        var withItems = TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes($$"""{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{{new string('a', 400)}}"},{"type":"function_call_output","call_id":"c","output":"{{new string('o', 400)}}"},{"type":"reasoning","summary":[{"type":"summary_text","text":"{{new string('r', 400)}}"}]}]}"""));
        var tools = new JsonObject
        {
            ["model"] = "m",
            ["input"] = "hi",
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "f", ["description"] = new string('d', 400) }),
            ["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "json_schema", ["name"] = "r", ["schema"] = new JsonObject { ["description"] = new string('s', 400) } } },
        };
        var withTools = TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes(tools.ToJsonString()));
        Assert.True(withInstructions >= bare + 100);
        Assert.True(withItems >= 300);
        Assert.True(withTools >= bare + 200);
    }
}
