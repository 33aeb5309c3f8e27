using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Responses;

namespace AgenticGateway.Tests.Responses;

/// <summary>How the chat-to-Responses stream behaves beyond the golden files: timing, failures, odd servers, and the event writer the service shares.</summary>
[Trait("Category", "unit")]
public class ChatToResponsesStreamTests
{
    private static ResponsesCreate Request(string json = """{"model":"m","input":"hi","stream":true}""")
    {
        Assert.Null(ResponsesCreate.TryRead(Encoding.UTF8.GetBytes(json), out var request));
        return request!;
    }

    private static ChatToResponsesStream NewStream() => new(Request(), "resp_t", 1750000000, 10);

    private static string Chunk(string delta, string? finish = null) =>
        "data: {\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + (finish is null ? "null" : "\"" + finish + "\"") + "}]}\n\n";

    private static string Run(ChatToResponsesStream stream, string input, bool complete = true)
    {
        var output = new ArrayBufferWriter<byte>();
        stream.Feed(Encoding.UTF8.GetBytes(input), output);
        if (complete) stream.Complete(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    [Fact]
    public void Events_come_out_as_soon_as_their_input_is_complete()
    {
        var stream = NewStream();
        var output = new ArrayBufferWriter<byte>();
        stream.Feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel"u8, output);
        Assert.Equal(0, output.WrittenCount);
        stream.Feed("lo\"}}]}\n\n"u8, output);
        var events = ResponsesSse.Parse(Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"], events.Select(e => e.Name));
        Assert.Equal("Hello", events[^1].Data["delta"]!.GetValue<string>());
        Assert.Null(stream.FinalResponse);
    }

    [Fact]
    public void The_terminal_event_waits_for_the_usage_chunk_after_the_finish_reason()
    {
        var stream = NewStream();
        var first = Run(stream, Chunk("{\"content\":\"Hi\"}") + Chunk("{}", "stop"), complete: false);
        Assert.DoesNotContain("response.completed", first, StringComparison.Ordinal);
        Assert.Contains("response.output_item.done", first, StringComparison.Ordinal);
        var rest = Run(stream, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\ndata: [DONE]\n\n");
        var completed = ResponsesSse.Parse(first + rest).Last();
        Assert.Equal("response.completed", completed.Name);
        Assert.Equal(new Usage(7, 2) { CachedPromptTokens = 3 }, stream.Usage);
        Assert.Equal(3, completed.Data["response"]!["usage"]!["input_tokens_details"]!["cached_tokens"]!.GetValue<int>());
        Assert.Equal("completed", JsonNode.Parse(stream.FinalResponse!)!["status"]!.GetValue<string>());
    }

    [Fact]
    public void Without_upstream_usage_the_response_reports_an_estimate_and_the_gateway_usage_stays_unknown()
    {
        var stream = NewStream();
        var events = ResponsesSse.Parse(Run(stream, Chunk("{\"content\":\"Hello there, friend\"}", "stop")));
        var usage = events[^1].Data["response"]!["usage"]!;
        Assert.Equal(10, usage["input_tokens"]!.GetValue<int>());
        Assert.Equal(5, usage["output_tokens"]!.GetValue<int>());
        Assert.Null(stream.Usage);
    }

    [Fact]
    public void An_error_object_in_the_stream_is_a_provider_error()
    {
        var stream = NewStream();
        var ex = Assert.Throws<ProviderStreamException>(() => Run(stream, "data: {\"error\":{\"message\":\"Slow down\",\"type\":\"rate_limit_error\",\"code\":\"rate_limit_exceeded\"}}\n\n"));
        Assert.Equal(429, ex.Error.Status);
        Assert.Equal("Slow down", ex.Error.Message);
        var numbered = Assert.Throws<ProviderStreamException>(() => Run(NewStream(), "data: {\"error\":{\"message\":\"Overloaded\",\"code\":503}}\n\n"));
        Assert.Equal(503, numbered.Error.Status);
    }

    [Theory]
    [InlineData("data: not json\n\n")]
    [InlineData("data: [1,2]\n\n")]
    [InlineData("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut\"}}]}\n\n")]
    [InlineData("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut\"}}]}")]
    [InlineData("")]
    public void Input_that_is_not_a_whole_chat_stream_is_invalid_data(string input) =>
        Assert.Throws<InvalidDataException>(() => Run(NewStream(), input));

    [Fact]
    public void Arguments_for_a_call_that_is_already_done_are_invalid_data_instead_of_being_dropped()
    {
        static string Call(int index, string? id, string args) => "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":" + index
            + (id is null ? "" : ",\"id\":\"" + id + "\",\"type\":\"function\"") + ",\"function\":{" + (id is null ? "" : "\"name\":\"f\",") + "\"arguments\":\"" + args + "\"}}]}}]}\n\n";
        var input = Call(0, "a", "{") + Call(1, "b", "{") + Call(0, null, "}") + "data: [DONE]\n\n";
        Assert.Throws<InvalidDataException>(() => Run(NewStream(), input));
    }

    [Fact]
    public void Tool_calls_without_an_index_are_told_apart_by_id_and_reused_indices_by_a_new_id()
    {
        var noIndex = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
        var reused = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n"
            + "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
        foreach (var input in new[] { noIndex, reused })
        {
            var stream = NewStream();
            var events = ResponsesSse.Parse(Run(stream, input));
            var calls = events.Where(e => e.Name == "response.output_item.done").Select(e => e.Data["item"]!).ToList();
            Assert.Equal(["a", "b"], calls.Select(c => c["call_id"]!.GetValue<string>()));
            Assert.Equal([0, 1], events.Where(e => e.Name == "response.output_item.done").Select(e => e.Data["output_index"]!.GetValue<int>()));
            Assert.Equal(2, JsonNode.Parse(stream.FinalResponse!)!["output"]!.AsArray().Count);
        }
    }

    [Fact]
    public void Text_after_a_tool_call_opens_a_new_message_item()
    {
        var input = Chunk("{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}") + Chunk("{\"content\":\"done\"}", "stop") + "data: [DONE]\n\n";
        var events = ResponsesSse.Parse(Run(NewStream(), input));
        var items = events.Where(e => e.Name == "response.output_item.done").Select(e => e.Data["item"]!["type"]!.GetValue<string>());
        Assert.Equal(["function_call", "message"], items);
    }

    [Fact]
    public void Choices_other_than_the_first_are_left_out()
    {
        var input = "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other\"}},{\"index\":0,\"delta\":{\"content\":\"first\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        var response = JsonNode.Parse(Run(NewStream(), input).Split("data: ").Last())!["response"]!;
        Assert.Equal("first", response["output"]![0]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public void A_failure_the_service_meets_ends_the_stream_with_response_failed()
    {
        var stream = NewStream();
        var output = new ArrayBufferWriter<byte>();
        stream.Feed(Encoding.UTF8.GetBytes(Chunk("{\"content\":\"par\"}")), output);
        stream.WriteFailed(output, new ApiError(502, "The upstream stream failed: reset", "server_error"));
        stream.Complete(output);
        var events = ResponsesSse.Parse(Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.Equal("response.output_item.done", events[^2].Name);
        Assert.Equal("incomplete", events[^2].Data["item"]!["status"]!.GetValue<string>());
        Assert.Equal("response.failed", events[^1].Name);
        var response = JsonNode.Parse(stream.FinalResponse!)!;
        Assert.Equal("failed", response["status"]!.GetValue<string>());
        Assert.Equal("server_error", response["error"]!["code"]!.GetValue<string>());
        Assert.Equal("The upstream stream failed: reset", response["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public void The_event_writer_numbers_on_across_writers_and_frames_errors_as_openai_does()
    {
        var events = new ResponsesEvents(5);
        var output = new ArrayBufferWriter<byte>();
        events.Error(output, "rate_limit_exceeded", "Too many requests", null);
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        Assert.Equal("event: error\ndata: {\"type\":\"error\",\"sequence_number\":5,\"code\":\"rate_limit_exceeded\",\"message\":\"Too many requests\",\"param\":null}\n\n", text);
        Assert.Equal(6, events.SequenceNumber);

        var stream = new ChatToResponsesStream(Request(), "resp_t", 1750000000, 10, events: events);
        var sse = Encoding.UTF8.GetString(output.WrittenSpan) + Run(stream, Chunk("{\"content\":\"x\"}", "stop") + "data: [DONE]\n\n");
        Assert.Contains("\"type\":\"response.created\",\"sequence_number\":6,", sse, StringComparison.Ordinal);
    }

    [Fact]
    public void Whole_items_replay_as_the_events_a_stream_of_them_sends()
    {
        // The hosted-tool loop's turns are not streamed upstream: their items go out through CompletedItem.
        foreach (var name in new[] { "plain", "reasoning", "parallel_tool_calls", "refusal", "max_output_tokens", "logprobs" })
        {
            var answer = ChatToResponses.FromCompletion(ResponsesInboundGoldenTests.Read(name, "chat_response.json"), new ResponsesItemIds("resp_test"));
            var replay = new ResponsesEvents(2);
            var output = new ArrayBufferWriter<byte>();
            for (var i = 0; i < answer.Output.Count; i++) replay.CompletedItem(output, i, answer.Output[i]!.AsObject());
            var streamed = ResponsesSse.Parse(Encoding.UTF8.GetString(ResponsesInboundGoldenTests.Read(name, "responses_stream.txt")));
            var expected = streamed.Skip(2).SkipLast(1).ToList();
            var actual = ResponsesSse.Parse(Encoding.UTF8.GetString(ResponsesSse.Renumber(output.WrittenSpan, 2))).ToList();
            Assert.Equal(Collapse(expected.Select(e => e.Name)), Collapse(actual.Select(e => e.Name)));
            var doneExpected = expected.Where(e => e.Name == "response.output_item.done").Select(e => e.Data["item"]).ToList();
            var doneActual = actual.Where(e => e.Name == "response.output_item.done").Select(e => e.Data["item"]).ToList();
            Assert.Equal(doneExpected.Count, doneActual.Count);
            for (var i = 0; i < doneExpected.Count; i++) GoldenJson.AssertEqual(doneExpected[i], doneActual[i], name);
        }

        // Deltas come in any number; one per part in a replay.
        static List<string> Collapse(IEnumerable<string> names)
        {
            var list = new List<string>();
            foreach (var n in names)
                if (!(n.EndsWith(".delta", StringComparison.Ordinal) && list.Count > 0 && list[^1] == n)) list.Add(n);
            return list;
        }
    }

    [Fact]
    public void Response_ids_have_the_prefix_and_48_hex_digits_and_item_ids_derive_from_the_response()
    {
        var id = ResponsesIds.New("resp");
        Assert.Matches("^resp_[0-9a-f]{48}$", id);
        Assert.Matches("^msg_[0-9a-f]{48}$", ResponsesIds.New("msg_"));
        Assert.NotEqual(id, ResponsesIds.New("resp"));
        var ids = new ResponsesItemIds(id);
        Assert.Equal("msg_" + id[5..] + "00", ids.Next("msg"));
        Assert.Equal("fc_" + id[5..] + "01", ids.Next("fc"));
    }
}
