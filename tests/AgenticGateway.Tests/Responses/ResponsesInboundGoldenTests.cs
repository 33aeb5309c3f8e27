using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Responses;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// Golden files for the Responses API on translated deployments, one directory per case under
/// Fixtures/translation/responses_inbound: responses_request.json (with history.json, the stored items it continues,
/// extra_tools.json, the service's hosted-tool functions, and referenced.json, the stored items its item references
/// name) → chat_request.json or expected_error.json;
/// chat_response.json → responses_response.json; chat_stream.txt → responses_stream.txt.
/// </summary>
[Trait("Category", "unit")]
public class ResponsesInboundGoldenTests
{
    private const string ResponseId = "resp_test";
    private const long CreatedAt = 1750000000;
    private const long CompletedAt = 1750000005;
    private const long Estimate = 12;

    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "responses_inbound");

    public static TheoryData<string> Cases(string file)
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, file))) data.Add(Path.GetFileName(dir));
        return data;
    }

    public static TheoryData<string> RequestCases() => Cases("responses_request.json");
    public static TheoryData<string> ResponseCases() => Cases("chat_response.json");
    public static TheoryData<string> StreamCases() => Cases("chat_stream.txt");

    [Fact]
    public void Every_case_has_its_expected_files()
    {
        var dirs = Directory.GetDirectories(Root);
        Assert.True(dirs.Length >= 15, $"only {dirs.Length} cases");
        foreach (var dir in dirs)
        {
            var name = Path.GetFileName(dir);
            Assert.True(File.Exists(Path.Combine(dir, "responses_request.json")), name);
            Assert.True(File.Exists(Path.Combine(dir, "chat_request.json")) ^ File.Exists(Path.Combine(dir, "expected_error.json")), name);
            if (File.Exists(Path.Combine(dir, "chat_response.json"))) Assert.True(File.Exists(Path.Combine(dir, "responses_response.json")), name);
            if (File.Exists(Path.Combine(dir, "chat_stream.txt"))) Assert.True(File.Exists(Path.Combine(dir, "responses_stream.txt")), name);
        }
    }

    [Theory]
    [MemberData(nameof(RequestCases))]
    public void Request_converts_as_recorded(string name)
    {
        var error = ResponsesCreate.TryRead(Read(name, "responses_request.json"), out var request);
        ApiErrorOrNull(ref error, request, name, out var body);
        if (File.Exists(Path.Combine(Root, name, "expected_error.json")))
        {
            Assert.NotNull(error);
            var expected = JsonNode.Parse(Read(name, "expected_error.json"))!;
            var actual = new JsonObject { ["status"] = error.Status, ["message"] = error.Message, ["type"] = error.Type, ["param"] = error.Param, ["code"] = error.Code };
            GoldenJson.AssertEqual(expected, actual, name);
            Assert.Empty(body);
            return;
        }
        Assert.Null(error);
        GoldenJson.Check(Path.Combine(Root, name, "chat_request.json"), JsonNode.Parse(body), name);
    }

    [Theory]
    [MemberData(nameof(ResponseCases))]
    public void Response_converts_as_recorded(string name)
    {
        var request = Request(name);
        var answer = ChatToResponses.FromCompletion(Read(name, "chat_response.json"), new ResponsesItemIds(ResponseId));
        var response = ChatToResponses.Response(request, ResponseId, CreatedAt, answer.Status, answer.Output, answer.Usage, null, answer.IncompleteDetails, CompletedAt, answer.ServiceTier);
        GoldenJson.Check(Path.Combine(Root, name, "responses_response.json"), JsonNode.Parse(response), name);
        Assert.NotNull(answer.GatewayUsage);
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Stream_converts_as_recorded(string name)
    {
        var (actual, stream) = ConvertStream(name, Read(name, "chat_stream.txt"), [int.MaxValue]);
        var expectedPath = Path.Combine(Root, name, "responses_stream.txt");
        if (!File.Exists(expectedPath))
        {
            File.WriteAllText(expectedPath + ".actual", actual);
            Assert.Fail($"{name}: no responses_stream.txt; the output was written next to it as .actual for review");
        }
        ResponsesSse.AssertSameEvents(File.ReadAllText(expectedPath), actual, name);
        // The stored response is the terminal event's.
        var last = ResponsesSse.Parse(actual)[^1];
        GoldenJson.AssertEqual(last.Data["response"], JsonNode.Parse(stream.FinalResponse!), name);
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Stream_output_does_not_depend_on_how_the_input_is_split(string name)
    {
        var input = Read(name, "chat_stream.txt");
        var whole = ConvertStream(name, input, [int.MaxValue]).Output;
        Assert.Equal(whole, ConvertStream(name, input, [1]).Output);
        var random = new Random(name.GetHashCode(StringComparison.Ordinal));
        for (var round = 0; round < 20; round++)
        {
            var sizes = Enumerable.Range(0, 64).Select(_ => random.Next(1, 40)).ToArray();
            Assert.Equal(whole, ConvertStream(name, input, sizes).Output);
        }
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Stream_and_json_answers_agree_on_the_final_response(string name)
    {
        if (!File.Exists(Path.Combine(Root, name, "chat_response.json"))) return;
        var (_, stream) = ConvertStream(name, Read(name, "chat_stream.txt"), [int.MaxValue]);
        var expected = JsonNode.Parse(Read(name, "responses_response.json"))!;
        GoldenJson.AssertEqual(expected, JsonNode.Parse(stream.FinalResponse!), name);
    }

    [Fact]
    public void A_wrong_translation_fails_the_comparison()
    {
        var expected = JsonNode.Parse(Read("plain", "responses_response.json"))!;
        var wrong = expected.DeepClone();
        wrong["status"] = "incomplete";
        Assert.ThrowsAny<Exception>(() => GoldenJson.AssertEqual(expected, wrong, "plain"));

        var stream = File.ReadAllText(Path.Combine(Root, "plain", "responses_stream.txt"));
        Assert.ThrowsAny<Exception>(() => ResponsesSse.AssertSameEvents(stream, stream.Replace("\"sequence_number\":3", "\"sequence_number\":4", StringComparison.Ordinal), "plain"));
        var withoutLast = stream[..stream.TrimEnd('\n').LastIndexOf("\n\n", StringComparison.Ordinal)] + "\n\n";
        Assert.ThrowsAny<Exception>(() => ResponsesSse.AssertSameEvents(stream, withoutLast, "plain"));
    }

    internal static byte[] Read(string name, string file) => File.ReadAllBytes(Path.Combine(Root, name, file));

    internal static ResponsesCreate Request(string name)
    {
        Assert.Null(ResponsesCreate.TryRead(Read(name, "responses_request.json"), out var request));
        return request!;
    }

    private static void ApiErrorOrNull(ref AgenticGateway.OpenAi.ApiError? error, ResponsesCreate? request, string name, out byte[] body)
    {
        body = [];
        if (error is not null) return;
        var history = File.Exists(Path.Combine(Root, name, "history.json")) ? JsonNode.Parse(Read(name, "history.json"))!.AsArray().Select(n => n!).ToList() : [];
        var extra = File.Exists(Path.Combine(Root, name, "extra_tools.json")) ? JsonNode.Parse(Read(name, "extra_tools.json"))!.AsArray().Select(n => n!.AsObject()).ToList() : [];
        var referenced = File.Exists(Path.Combine(Root, name, "referenced.json"))
            ? JsonNode.Parse(Read(name, "referenced.json"))!.AsObject().ToDictionary(p => p.Key, p => p.Value!.AsObject())
            : null;
        error = ResponsesToChat.Convert(request!, history, extra, request!.Stream, out body, referencedItems: referenced);
    }

    internal static (string Output, ChatToResponsesStream Stream) ConvertStream(string name, byte[] input, int[] sizes)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(CompletedAt));
        var stream = new ChatToResponsesStream(Request(name), ResponseId, CreatedAt, Estimate, clock);
        var output = new ArrayBufferWriter<byte>();
        var offset = 0;
        var i = 0;
        while (offset < input.Length)
        {
            var size = Math.Min(sizes[i++ % sizes.Length], input.Length - offset);
            stream.Feed(input.AsSpan(offset, size), output);
            offset += size;
        }
        stream.Complete(output);
        return (Encoding.UTF8.GetString(output.WrittenSpan), stream);
    }
}

/// <summary>Comparison of JSON with a golden file (written next to it as <c>.actual</c> when missing, for review).</summary>
internal static class GoldenJson
{
    public static void Check(string expectedPath, JsonNode? actual, string name)
    {
        if (!File.Exists(expectedPath))
        {
            File.WriteAllText(expectedPath + ".actual", actual?.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            Assert.Fail($"{name}: no {Path.GetFileName(expectedPath)}; the output was written next to it as .actual for review");
        }
        AssertEqual(JsonNode.Parse(File.ReadAllBytes(expectedPath)), actual, name);
    }

    public static void AssertEqual(JsonNode? expected, JsonNode? actual, string name)
    {
        if (!JsonNode.DeepEquals(expected, actual))
            Assert.Fail($"{name}:\nexpected {expected?.ToJsonString()}\nactual   {actual?.ToJsonString()}");
    }
}

/// <summary>Responses SSE as OpenAI frames it: each event exactly <c>event: type\ndata: json\n\n</c>, numbered from 0.</summary>
internal static class ResponsesSse
{
    public static List<(string Name, JsonNode Data)> Parse(string sse)
    {
        Assert.True(sse.EndsWith("\n\n", StringComparison.Ordinal), "the output does not end with a complete event");
        var events = new List<(string, JsonNode)>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("data: ", lines[1], StringComparison.Ordinal);
            var data = JsonNode.Parse(lines[1]["data: ".Length..])!;
            Assert.Equal(lines[0]["event: ".Length..], data["type"]!.GetValue<string>());
            Assert.Equal(events.Count, data["sequence_number"]!.GetValue<int>());
            events.Add((lines[0]["event: ".Length..], data));
        }
        return events;
    }

    /// <summary>The events as if numbered from 0 (a writer that started at <paramref name="first"/>), for <see cref="Parse"/>.</summary>
    public static byte[] Renumber(ReadOnlySpan<byte> sse, int first) =>
        Encoding.UTF8.GetBytes(System.Text.RegularExpressions.Regex.Replace(Encoding.UTF8.GetString(sse), "\"sequence_number\":(\\d+)",
            m => "\"sequence_number\":" + (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - first)));

    public static void AssertSameEvents(string expected, string actual, string name)
    {
        var e = Parse(expected);
        var a = Parse(actual);
        for (var i = 0; i < Math.Min(e.Count, a.Count); i++)
        {
            Assert.True(e[i].Name == a[i].Name, $"{name}: event {i} is {a[i].Name}, expected {e[i].Name}");
            GoldenJson.AssertEqual(e[i].Data, a[i].Data, $"{name} event {i}");
        }
        Assert.True(e.Count == a.Count, $"{name}: {a.Count} events, expected {e.Count}");
    }
}
