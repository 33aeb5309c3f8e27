using System.Buffers;
using System.Net;
using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Keys;
using AgenticGateway.Routing;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static AgenticGateway.Tests.Guardrails.GuardrailTesting;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// Input the guardrails cannot read: a request body nested deeper than 64 (which the request reader accepts up to 128)
/// or holding a lone surrogate escape is answered with a 4xx, never a 500; an answer or stream event that will not
/// parse is refused rather than passed on unchecked.
/// </summary>
[Trait("Category", "functional")]
public class GuardrailFailClosedTests
{
    private const string Master = "sk-master-key-for-guardrail-tests";
    private static readonly string Config = $$"""
        master_key: {{Master}}
        models:
          - {name: gpt-4o, provider: mock}
        """;

    private static Task<GatewayServer> StartAsync(params GuardrailMode[] modes) =>
        GatewayServer.StartAsync(Config, services: Types, configure: With(Guard("pii", modes)));

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string json) =>
        g.PostJsonAsync("/v1/chat/completions", json, configure: r => r.Headers.Authorization = new("Bearer", Master));

    [Fact]
    public async Task A_body_nested_deeper_than_64_is_checked_not_a_500()
    {
        await using var g = await StartAsync(GuardrailMode.PreCall);
        var nested = new string('[', 90) + new string(']', 90);
        using var r = await PostAsync(g, Chat.Request("gpt-4o", content: "mail jane.doe@example.com", extra: ",\"metadata\":{\"deep\":" + nested + "}"));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True((int)r.StatusCode < 500, $"{(int)r.StatusCode}: {text}");
        Assert.DoesNotContain("jane.doe@example.com", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lone_surrogate_in_a_checked_text_is_a_400()
    {
        await using var g = await StartAsync(GuardrailMode.PreCall);
        using var r = await PostAsync(g, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"mail jane.doe@example.com \\ud800\"}]}");
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}: {text}");
        Assert.Contains("\"error\"", text, StringComparison.Ordinal);
    }

    private static GuardrailAnswerFilter Filter(GatewayServer g, LlmOperation operation) =>
        new(g.Services.GetRequiredService<GuardrailRunner>(), operation, Caller.Admin, "gpt-4o", "req-1", null, new GuardrailDecisions(), null, null, NullLogger.Instance);

    [Theory]
    [InlineData("responses", "data: {\"type\":[\"response.output_text.delta\"],\"delta\":\"jane.doe@example.com\"}\n\n")]
    [InlineData("responses", "data: {\"type\":7,\"item_id\":\"response.x\",\"delta\":\"jane.doe@example.com\"}\n\n")]
    [InlineData("responses", "data: {\"type\":\"response.output_text.delta\",\n\n")]
    [InlineData("chat", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"jane.doe@example.com\"}\n\n")]
    public async Task A_malformed_stream_event_ends_the_stream_with_an_error_not_unchecked_text(string api, string events)
    {
        await using var g = await StartAsync(GuardrailMode.PostCall);
        var stream = Filter(g, api == "chat" ? LlmOperation.ChatCompletions : LlmOperation.Responses).ForStream();
        Assert.NotNull(stream);
        var output = new ArrayBufferWriter<byte>();
        var error = await stream.FeedAsync(Encoding.UTF8.GetBytes(events), output, CancellationToken.None);
        Assert.NotNull(error);
        Assert.Equal(502, error.Status);
        Assert.Equal(0, output.WrittenCount);
    }

    [Theory]
    [InlineData("{\"choices\":[{\"message\":{\"content\":\"jane.doe@example.com\"")]
    [InlineData("[\"jane.doe@example.com\"]")]
    [InlineData("{\"choices\":[{\"message\":{\"content\":\"jane.doe@example.com \\ud800\"}}]}")]
    public async Task An_answer_that_will_not_parse_is_refused_not_released(string answer)
    {
        await using var g = await StartAsync(GuardrailMode.PostCall);
        var filtered = await Filter(g, LlmOperation.ChatCompletions).FilterAsync(Encoding.UTF8.GetBytes(answer), CancellationToken.None);
        Assert.NotNull(filtered.Blocked);
        Assert.Equal(502, filtered.Blocked.Status);
    }
}
