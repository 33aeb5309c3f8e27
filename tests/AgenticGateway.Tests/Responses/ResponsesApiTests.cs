using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// /v1/responses end to end on the emulator: a deployment that serves the Responses API itself (openai) and one it is
/// translated for (anthropic); stored conversations, retrieve, input items, delete, background runs, owners and errors.
/// </summary>
[Trait("Category", "functional")]
public class ResponsesApiTests : IAsyncLifetime
{
    private const string Master = "sk-responses-master";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync();
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - name: gpt-4o
                provider: openai
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
              - name: claude
                provider: anthropic
                model: claude-sonnet-4-5
                api_base: {_upstream.Url}
                api_key: sk-ant-upstream
            router:
              num_retries: 0
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? json = null, string key = Master)
    {
        using var request = new HttpRequestMessage(method, _gateway.Url + path);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        if (json is not null) request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        var response = await _gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.False(string.IsNullOrEmpty(text), $"{method} {path} answered {(int)response.StatusCode} with an empty body");
        return (response.StatusCode, JsonNode.Parse(text)!, response);
    }

    private static string OutputText(JsonNode response) =>
        string.Concat(response["output"]!.AsArray().Where(i => (string?)i!["type"] == "message")
            .SelectMany(i => i!["content"]!.AsArray()).Where(p => (string?)p!["type"] == "output_text").Select(p => (string?)p!["text"]));

    [Theory]
    [InlineData("gpt-4o", "openai")]
    [InlineData("claude", "anthropic")]
    public async Task A_response_is_created_on_a_native_and_on_a_translated_deployment(string model, string provider)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Post, "/v1/responses", $$"""{"model":"{{model}}","instructions":"Be brief.","input":"Hello there"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(provider, response.Headers.GetValues("x-agw-provider").Single());
        Assert.Equal("response", (string?)body["object"]);
        Assert.StartsWith("resp_", (string?)body["id"]);
        Assert.Equal("completed", (string?)body["status"]);
        Assert.Equal("Be brief.", (string?)body["instructions"]);
        Assert.False(string.IsNullOrWhiteSpace(OutputText(body)));
        var usage = body["usage"]!;
        Assert.True((int)usage["input_tokens"]! > 0);
        Assert.True((int)usage["output_tokens"]! > 0);
        Assert.Equal((int)usage["input_tokens"]! + (int)usage["output_tokens"]!, (int)usage["total_tokens"]!);
    }

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("claude")]
    public async Task A_stream_has_the_documented_events_in_order_with_sequence_numbers(string model)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _gateway.Url + "/v1/responses")
        {
            Content = new StringContent($$"""{"model":"{{model}}","input":"Tell me a story","stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Master);
        using var response = await _gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.Equal("response.created", events[0].Type);
        Assert.Equal("response.in_progress", events[1].Type);
        Assert.Equal("response.completed", events[^1].Type);
        for (var i = 0; i < events.Count; i++)
        {
            Assert.Equal(i, (int)events[i].Data["sequence_number"]!);
            Assert.Equal(events[i].Type, (string?)events[i].Data["type"]);
        }
        var deltas = string.Concat(events.Where(e => e.Type == "response.output_text.delta").Select(e => (string?)e.Data["delta"]));
        var done = events.Single(e => e.Type == "response.output_text.done");
        Assert.Equal(deltas, (string?)done.Data["text"]);
        var completed = events[^1].Data["response"]!;
        Assert.Equal(deltas, OutputText(completed));
        Assert.True((int)completed["usage"]!["output_tokens"]! > 0);

        // The streamed response is stored whole, under the id its events carried.
        var (status, stored, _) = await SendAsync(HttpMethod.Get, "/v1/responses/" + (string?)completed["id"]);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(deltas, OutputText(stored));
    }

    internal static List<(string Type, JsonNode Data)> ParseEvents(string sse)
    {
        var events = new List<(string, JsonNode)>();
        foreach (var block in sse.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? type = null, data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
            }
            if (data is null) continue;
            var node = JsonNode.Parse(data)!;
            events.Add((type ?? (string)node["type"]!, node));
        }
        return events;
    }

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("claude")]
    public async Task A_previous_response_id_continues_the_stored_conversation(string model)
    {
        var (_, first, _) = await SendAsync(HttpMethod.Post, "/v1/responses", $$"""{"model":"{{model}}","input":"My name is Ada."}""");
        var firstAnswer = OutputText(first);
        var (status, second, _) = await SendAsync(HttpMethod.Post, "/v1/responses",
            $$"""{"model":"{{model}}","previous_response_id":"{{(string?)first["id"]}}","input":"What is my name?"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((string?)first["id"], (string?)second["previous_response_id"]);
        // The provider got the whole conversation: the first input, the first answer, then the new input.
        var upstream = _upstream.Engine.LastRequest!.Body;
        var ada = upstream.IndexOf("My name is Ada.", StringComparison.Ordinal);
        var answer = upstream.IndexOf(JsonSerializer.Serialize(firstAnswer)[1..^1], StringComparison.Ordinal);
        var question = upstream.IndexOf("What is my name?", StringComparison.Ordinal);
        Assert.True(ada >= 0 && answer > ada && question > answer, upstream);
        Assert.DoesNotContain("previous_response_id", upstream);
    }

    [Fact]
    public async Task Retrieve_input_items_and_delete_are_the_owners_alone()
    {
        var key = await _gateway.GenerateKeyAsync("""{"models":["claude"]}""", Master);
        var other = await _gateway.GenerateKeyAsync("""{"models":["claude"]}""", Master);
        var (_, created, _) = await SendAsync(HttpMethod.Post, "/v1/responses",
            """{"model":"claude","input":[{"role":"user","content":"one"},{"type":"message","role":"user","content":[{"type":"input_text","text":"two"}]}],"metadata":{"k":"v"}}""", key);
        var id = (string)created["id"]!;
        Assert.Equal("v", (string?)created["metadata"]!["k"]);

        var (status, got, _) = await SendAsync(HttpMethod.Get, "/v1/responses/" + id, key: key);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(OutputText(created), OutputText(got));

        var (listStatus, list, _) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?order=asc", key: key);
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.Equal("list", (string?)list["object"]);
        var items = list["data"]!.AsArray();
        Assert.Equal(2, items.Count);
        Assert.All(items, i => Assert.StartsWith("msg_", (string?)i!["id"]));
        Assert.Equal("one", (string?)items[0]!["content"]![0]!["text"]);
        Assert.Equal("input_text", (string?)items[0]!["content"]![0]!["type"]);
        Assert.False((bool)list["has_more"]!);
        var (_, desc, _) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?limit=1", key: key);
        Assert.Equal("two", (string?)desc["data"]![0]!["content"]![0]!["text"]);
        Assert.True((bool)desc["has_more"]!);
        var (afterStatus, _, _) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?after=msg_nope", key: key);
        Assert.Equal(HttpStatusCode.BadRequest, afterStatus);

        // Another key learns nothing, not even that the id exists, and cannot delete it.
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/v1/responses/" + id), (HttpMethod.Get, $"/v1/responses/{id}/input_items"), (HttpMethod.Delete, "/v1/responses/" + id) })
        {
            var (s, e, _) = await SendAsync(method, path, key: other);
            Assert.Equal(HttpStatusCode.NotFound, s);
            Assert.Equal("invalid_request_error", (string?)e["error"]!["type"]);
        }
        var (prevStatus, prev, _) = await SendAsync(HttpMethod.Post, "/v1/responses", $$"""{"model":"claude","previous_response_id":"{{id}}","input":"x"}""", other);
        Assert.Equal(HttpStatusCode.NotFound, prevStatus);
        Assert.Equal("previous_response_id", (string?)prev["error"]!["param"]);

        var (deleted, del, _) = await SendAsync(HttpMethod.Delete, "/v1/responses/" + id, key: key);
        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.True((bool)del["deleted"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/responses/" + id, key: key)).Status);
    }

    [Fact]
    public async Task A_response_with_store_false_is_not_kept()
    {
        var (_, created, _) = await SendAsync(HttpMethod.Post, "/v1/responses", """{"model":"claude","input":"hi","store":false}""");
        Assert.False((bool)created["store"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/responses/" + (string?)created["id"])).Status);
    }

    [Theory]
    [InlineData("claude")]
    [InlineData("gpt-4o")]
    public async Task A_background_response_is_queued_then_read_back_completed(string model)
    {
        var (status, queued, _) = await SendAsync(HttpMethod.Post, "/v1/responses", $$"""{"model":"{{model}}","input":"hi","background":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("queued", (string?)queued["status"]);
        Assert.True((bool)queued["background"]!);
        var id = (string)queued["id"]!;
        JsonNode polled = queued;
        for (var i = 0; i < 100 && (string?)polled["status"] is "queued" or "in_progress"; i++)
        {
            await Task.Delay(100);
            polled = (await SendAsync(HttpMethod.Get, "/v1/responses/" + id)).Body;
        }
        Assert.Equal("completed", (string?)polled["status"]);
        Assert.Equal(id, (string?)polled["id"]);
        // A native deployment ran it as a plain request: the client's background flag is put back.
        Assert.True((bool)polled["background"]!);
        Assert.False(string.IsNullOrWhiteSpace(OutputText(polled)));

        // Cancelling a finished background response changes nothing; a foreground one cannot be cancelled.
        var (cancelStatus, cancelled, _) = await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel");
        Assert.Equal(HttpStatusCode.OK, cancelStatus);
        Assert.Equal("completed", (string?)cancelled["status"]);
        var (_, foreground, _) = await SendAsync(HttpMethod.Post, "/v1/responses", $$"""{"model":"{{model}}","input":"hi"}""");
        var (refused, error, _) = await SendAsync(HttpMethod.Post, $"/v1/responses/{(string?)foreground["id"]}/cancel");
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal("invalid_request_error", (string?)error["error"]!["type"]);
    }

    [Fact]
    public async Task A_background_response_can_be_cancelled_while_it_runs()
    {
        await using var slow = await EmulatorServer.StartAsync(new AgenticGateway.Emulator.MockSettings { TimeToFirstToken = TimeSpan.FromSeconds(20) });
        await using var gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: slow, provider: anthropic, model: claude-sonnet-4-5, api_base: "{slow.Url}", api_key: k{"}"}
            """);
        using var create = new HttpRequestMessage(HttpMethod.Post, gateway.Url + "/v1/responses") { Content = new StringContent("""{"model":"slow","input":"hi","background":true}""") };
        create.Content.Headers.ContentType = new("application/json");
        create.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Master);
        var queued = JsonNode.Parse(await (await gateway.Client.SendAsync(create)).Content.ReadAsStringAsync())!;
        var id = (string)queued["id"]!;
        await slow.Engine.WhenArrivedAsync(1);
        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"{gateway.Url}/v1/responses/{id}/cancel");
        cancel.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Master);
        var cancelled = JsonNode.Parse(await (await gateway.Client.SendAsync(cancel)).Content.ReadAsStringAsync())!;
        Assert.Equal("cancelled", (string?)cancelled["status"]);
    }

    [Theory]
    [InlineData("""{"model":"claude"}""", "input")]
    [InlineData("""{"model":"claude","input":42}""", "input")]
    [InlineData("""{"model":"claude","input":"x","temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"claude","input":"x","background":true,"store":false}""", "background")]
    [InlineData("""{"model":"claude","input":"x","previous_response_id":"resp_missing"}""", "previous_response_id")]
    [InlineData("""{"model":"claude","input":"x","tools":[{"type":"mcp","server_label":"nowhere","require_approval":"never"}]}""", "tools")]
    public async Task Bad_requests_get_openai_errors_naming_the_parameter(string json, string param)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/v1/responses", json);
        Assert.True(status is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{status}: {body}");
        Assert.StartsWith(param, (string?)body["error"]!["param"] ?? "");
        Assert.False(string.IsNullOrWhiteSpace((string?)body["error"]!["message"]));
    }

    [Theory]
    [InlineData("/v1/responses", """{"model":"claude","input":"x","input":"y"}""")]
    [InlineData("/v1/responses", """{"model":"claude","input":[{"role":"user","content":"a","content":"b"}]}""")]
    [InlineData("/v1/chat/completions", """{"model":"claude","messages":[{"role":"user","content":"x"}],"tools":[{"type":"code_interpreter","type":"code_interpreter"}]}""")]
    public async Task A_name_given_twice_is_a_400_not_a_500(string path, string json)
    {
        // Found by the request fuzz: JsonNode parses duplicate names, then throws on the first read of the object.
        var (status, body, _) = await SendAsync(HttpMethod.Post, path, json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_json", (string?)body["error"]!["code"]);
    }

    [Fact]
    public async Task A_response_is_counted_in_spend_like_a_chat_completion()
    {
        var key = await _gateway.GenerateKeyAsync("""{"models":["claude"],"max_budget":10}""", Master);
        var (_, created, response) = await SendAsync(HttpMethod.Post, "/v1/responses", """{"model":"claude","input":"hi"}""", key);
        Assert.True(decimal.Parse(response.Headers.GetValues("x-agw-response-cost").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        await _gateway.FlushSpendAsync();
        var (status, logs) = await _gateway.AdminAsync("/spend/logs?request_id=" + response.Headers.GetValues("x-request-id").Single(), null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var log = logs.EnumerateArray().Single();
        Assert.Equal((string?)created["id"], log.GetProperty("response_id").GetString());
        Assert.True(log.GetProperty("spend").GetDouble() > 0);
    }
}
