using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Responses;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// A Responses request the gateway cannot take is an OpenAI-shaped 400 naming the field (<c>param</c>) with OpenAI's
/// code, from the reader (<see cref="ResponsesCreate.TryRead"/>) or, for what only translation cannot do, the converter.
/// </summary>
[Trait("Category", "unit")]
public class ResponsesValidationTests
{
    [Theory]
    [InlineData("""{"input":"hi"}""", "model", "missing_required_parameter")]
    [InlineData("""{"model":5,"input":"hi"}""", "model", "invalid_type")]
    [InlineData("""{"model":"","input":"hi"}""", "model", "invalid_value")]
    [InlineData("""{"model":"m"}""", "input", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":5}""", "input", "invalid_type")]
    [InlineData("""{"model":"m","input":["hi"]}""", "input[0]", "invalid_type")]
    [InlineData("""{"model":"m","input":[{"content":"hi"}]}""", "input[0].type", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"role":"robot","content":"hi"}]}""", "input[0].role", "invalid_value")]
    [InlineData("""{"model":"m","input":[{"role":"user"}]}""", "input[0].content", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":{"text":"hi"}}]}""", "input[0].content", "invalid_type")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}""", "input[0].content[0].type", "invalid_value")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}""", "input[0].content[0].text", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_image","detail":"auto"}]}]}""", "input[0].content[0].image_url", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png","detail":"max"}]}]}""", "input[0].content[0].detail", "invalid_value")]
    [InlineData("""{"model":"m","input":[{"role":"assistant","content":[{"type":"input_image","image_url":"https://x"}]}]}""", "input[0].content[0].type", "invalid_value")]
    [InlineData("""{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"}]}""", "input[0].arguments", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"type":"function_call_output","output":"x"}]}""", "input[0].call_id", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":5}]}""", "input[0].output", "invalid_type")]
    [InlineData("""{"model":"m","input":[{"type":"item_reference"}]}""", "input[0].id", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","tools":{}}""", "tools", "invalid_type")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"name":"f"}]}""", "tools[0].type", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function"}]}""", "tools[0].name", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function","name":"get weather"}]}""", "tools[0].name", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":"{}"}]}""", "tools[0].parameters", "invalid_type")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"mcp","server_url":"https://x"}]}""", "tools[0].server_label", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","tool_choice":"any"}""", "tool_choice", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","tool_choice":{"type":"function"}}""", "tool_choice.name", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","tool_choice":{"type":"allowed_tools","mode":"sometimes","tools":[]}}""", "tool_choice.mode", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","text":{"format":{"type":"xml"}}}""", "text.format.type", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{}}}}""", "text.format.name", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"r"}}}""", "text.format.schema", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":"hi","text":{"verbosity":"loud"}}""", "text.verbosity", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","reasoning":{"effort":"extreme"}}""", "reasoning.effort", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","reasoning":{"summary":"long"}}""", "reasoning.summary", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","max_output_tokens":15}""", "max_output_tokens", "integer_below_min_value")]
    [InlineData("""{"model":"m","input":"hi","max_output_tokens":1.5}""", "max_output_tokens", "invalid_type")]
    [InlineData("""{"model":"m","input":"hi","temperature":3}""", "temperature", "decimal_above_max_value")]
    [InlineData("""{"model":"m","input":"hi","top_p":-1}""", "top_p", "decimal_below_min_value")]
    [InlineData("""{"model":"m","input":"hi","top_logprobs":21}""", "top_logprobs", "integer_above_max_value")]
    [InlineData("""{"model":"m","input":"hi","truncation":"middle"}""", "truncation", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","include":["everything"]}""", "include[0]", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","metadata":{"a":1}}""", "metadata.a", "invalid_type")]
    [InlineData("""{"model":"m","input":"hi","stream":"yes"}""", "stream", "invalid_type")]
    [InlineData("""{"model":"m","input":"hi","stream_options":{"include_obfuscation":false}}""", "stream_options", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","background":true,"store":false}""", "background", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","conversation":"conv_1"}""", "conversation", "unsupported_parameter")]
    [InlineData("""{"model":"m","prompt":{"id":"pmpt_1"}}""", "prompt", "unsupported_parameter")]
    [InlineData("""{"model":"m","input":"hi","max_tokens":100}""", "max_tokens", "unknown_parameter")]
    [InlineData("""{"model":"m","input":"hi","previous_response_id":7}""", "previous_response_id", "invalid_type")]
    public void A_bad_request_is_a_400_naming_the_field(string json, string param, string code)
    {
        var error = ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(json), out var request);
        Assert.NotNull(error);
        Assert.Null(request);
        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal(param, error.Param);
        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"model\":")]
    [InlineData("{\"model\":\"m\",\"input\":\"hi\"} trailing")]
    public void A_body_that_is_not_one_json_object_is_a_400(string json)
    {
        var error = ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(json), out _);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
    }

    [Fact]
    public void Too_much_metadata_is_refused_as_openai_does()
    {
        var metadata = new JsonObject();
        for (var i = 0; i < 17; i++) metadata["k" + i] = "v";
        var body = new JsonObject { ["model"] = "m", ["input"] = "hi", ["metadata"] = metadata };
        Assert.Equal("object_above_max_properties", ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(body.ToJsonString()), out _)!.Code);
        body["metadata"] = new JsonObject { ["k"] = new string('x', 513) };
        Assert.Equal("metadata.k", ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(body.ToJsonString()), out _)!.Param);
    }

    [Fact]
    public void A_valid_request_is_read_with_its_defaults_and_the_input_normalised()
    {
        Assert.Null(ResponsesCreate.TryRead("""{"model":"m","input":[{"role":"user","content":"hi"},{"type":"item_reference","id":"msg_1"}],"tags":["a"]}"""u8, out var request));
        Assert.True(request!.Store);
        Assert.False(request.Stream);
        Assert.False(request.Background);
        Assert.Null(request.Truncation);
        Assert.Equal("message", request.Input[0]!["type"]!.GetValue<string>());
        Assert.Equal(["msg_1"], request.ItemReferences);

        Assert.Null(ResponsesCreate.TryRead("""{"model":"m","input":"hello","stream":true,"stream_options":{"include_obfuscation":false},"previous_response_id":"resp_1","store":false}"""u8, out request));
        var item = Assert.Single(request!.Input)!;
        Assert.Equal("""{"type":"message","role":"user","content":"hello"}""", item.ToJsonString());
        Assert.True(request.Stream);
        Assert.False(request.Store);
        Assert.Equal("resp_1", request.PreviousResponseId);

        // A field this reader does not know (a client newer than it) is kept for a native deployment, not refused.
        Assert.Null(ResponsesCreate.TryRead("""{"model":"m","input":"hi","client_metadata":{"x":"y"}}"""u8, out request));
        Assert.NotNull(request!.Body["client_metadata"]);

        // Continuing a stored conversation needs no new input.
        Assert.Null(ResponsesCreate.TryRead("""{"model":"m","previous_response_id":"resp_1"}"""u8, out request));
        Assert.Empty(request!.Input);
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]}""", "tools[0].type")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function","name":"f"},{"type":"image_generation"}]}""", "tools[1].type")]
    [InlineData("""{"model":"m","input":"hi","tool_choice":{"type":"web_search_preview"}}""", "tool_choice.type")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"g"}}""", "tool_choice")]
    [InlineData("""{"model":"m","input":"hi","tool_choice":{"type":"code_interpreter"}}""", "tool_choice")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/a.pdf"}]}]}""", "input[0].content[0].file_data")]
    [InlineData("""{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x/a.png"}]}]}""", "input[0].content[0].type")]
    [InlineData("""{"model":"m","input":[{"type":"web_search_call","id":"ws_1","status":"completed"}]}""", "input[0].type")]
    public void What_translation_cannot_do_is_a_400_from_the_converter(string json, string param)
    {
        Assert.Null(ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(json), out var request));
        var error = ResponsesToChat.Convert(request!, [], [], stream: false, out var body);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal(param, error.Param);
        Assert.Empty(body);
    }

    [Fact]
    public void A_history_item_translation_cannot_carry_names_previous_response_id()
    {
        Assert.Null(ResponsesCreate.TryRead("""{"model":"m","previous_response_id":"resp_1","input":"next"}"""u8, out var request));
        JsonNode[] history = [JsonNode.Parse("""{"id":"ws_1","type":"web_search_call","status":"completed"}""")!];
        var error = ResponsesToChat.Convert(request!, history, [], stream: false, out _);
        Assert.Equal("previous_response_id", error!.Param);
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi","max_output_tokens":100}""", null, 100)]
    [InlineData("""{"model":"m","previous_response_id":"resp_1","input":[]}""", null, null)]
    [InlineData("""{"model":"m","input":"hi","max_output_tokens":8}""", "max_output_tokens", null)]
    [InlineData("""{"model":"m","instructions":"x"}""", "input", null)]
    [InlineData("""{"model":"m","input":"hi","prompt":{"id":"pmpt_1"}}""", null, null)]
    public void The_request_reader_takes_responses_bodies(string json, string? param, int? maxTokens)
    {
        var error = RequestReader.TryParse(Encoding.UTF8.GetBytes(json), LlmOperation.Responses, out var parsed);
        Assert.Equal(param, error?.Param);
        if (error is null)
        {
            Assert.Equal("m", parsed.Model);
            Assert.Equal(maxTokens, parsed.MaxTokens);
        }
    }

    [Fact]
    public void Chat_bodies_still_need_messages_and_embeddings_a_non_empty_input()
    {
        Assert.Equal("messages", RequestReader.TryParse("""{"model":"m","input":"hi"}"""u8, LlmOperation.ChatCompletions, out _)!.Param);
        Assert.Equal("input", RequestReader.TryParse("""{"model":"m","input":[]}"""u8, LlmOperation.Embeddings, out _)!.Param);
    }
}
