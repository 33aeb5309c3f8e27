using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// A Responses API answer that a post_call guardrail masked is stored masked: a later GET /v1/responses/{id}, or a
/// request that continues it with previous_response_id, never sees the text the client was not shown.
/// </summary>
[Trait("Category", "functional")]
public class ResponsesStoreMaskingTests
{
    private const string Master = "sk-master-key-for-responses-masking";
    private const string Secret = "jane.doe@example.com";

    private static Task<GatewayServer> StartAsync() => GatewayServer.StartAsync("""
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: mock/gpt-4o}
        general_settings:
          master_key: sk-master-key-for-responses-masking
        guardrails:
          - guardrail_name: "presidio-post"
            litellm_params:
              guardrail: presidio
              mode: "post_call"
              default_on: true
              pii_entities_config: {EMAIL_ADDRESS: MASK}
        """, "litellm.yaml");

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string json) =>
        g.PostJsonAsync("/v1/responses", json, configure: r => r.Headers.Authorization = new("Bearer", Master));

    private static async Task<string> StoredAsync(GatewayServer g, string id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/responses/{id}");
        request.Headers.Authorization = new("Bearer", Master);
        using var response = await g.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_masked_answer_is_stored_as_the_client_got_it(bool stream)
    {
        await using var g = await StartAsync();
        using var response = await PostAsync(g, $$"""{"model":"gpt-4o","stream":{{(stream ? "true" : "false")}},"input":"hello","mock_response":"mail {{Secret}} now"}""");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.DoesNotContain(Secret, body, StringComparison.Ordinal);
        var id = stream ? StreamedId(body) : JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;

        var stored = await StoredAsync(g, id);
        Assert.DoesNotContain(Secret, stored, StringComparison.Ordinal);
        Assert.Contains("mail <EMAIL_ADDRESS> now", stored, StringComparison.Ordinal);

        // previous_response_id builds the next turn's history from this same stored answer.
        using var next = await PostAsync(g, $$"""{"model":"gpt-4o","input":"and then?","previous_response_id":"{{id}}"}""");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    private static string StreamedId(string sse)
    {
        foreach (var e in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var data = e.Split('\n').FirstOrDefault(l => l.StartsWith("data:", StringComparison.Ordinal))?[5..].Trim();
            if (data is null) continue;
            using var evt = JsonDocument.Parse(data);
            if (evt.RootElement.GetProperty("type").GetString() == "response.completed")
                return evt.RootElement.GetProperty("response").GetProperty("id").GetString()!;
        }
        throw new Xunit.Sdk.XunitException("the stream had no response.completed event");
    }
}
