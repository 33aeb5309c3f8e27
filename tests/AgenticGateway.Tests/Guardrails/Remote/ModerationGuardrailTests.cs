using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Guardrails.Remote;
using AgenticGateway.Keys;
using AgenticGateway.Safety.Guardrails;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>The emulator's /v1/moderations in OpenAI's shape, and the openai_moderation guardrail asking it.</summary>
[Trait("Category", "functional")]
public class ModerationGuardrailTests : IAsyncLifetime
{
    private EmulatorServer _mock = null!;
    private readonly RemoteGuardrailHttp _http = new();

    public async Task InitializeAsync() => _mock = await EmulatorServer.StartAsync(apiKey: "sk-mod");

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _mock.DisposeAsync();
    }

    private async Task<(int Status, JsonDocument Body)> PostAsync(string json)
    {
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, _mock.ApiBase + "/moderations") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("Authorization", "Bearer sk-mod");
        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task The_emulator_answers_one_result_per_input_with_openais_thirteen_categories()
    {
        var (status, body) = await PostAsync("""{"input":["What is the capital of France?","I will kill them all"]}""");
        using (body)
        {
            Assert.Equal(200, status);
            var root = body.RootElement;
            Assert.StartsWith("modr-", root.GetProperty("id").GetString());
            Assert.Equal("omni-moderation-latest", root.GetProperty("model").GetString()); // OpenAI's default when none is named
            var results = root.GetProperty("results");
            Assert.Equal(2, results.GetArrayLength());
            Assert.False(results[0].GetProperty("flagged").GetBoolean());
            Assert.True(results[1].GetProperty("flagged").GetBoolean());
            Assert.True(results[1].GetProperty("categories").GetProperty("violence").GetBoolean());
            string[] categories = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
                "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic"];
            foreach (var field in new[] { "categories", "category_scores", "category_applied_input_types" })
                Assert.Equal(categories.Order(), results[0].GetProperty(field).EnumerateObject().Select(p => p.Name).Order());
            Assert.Equal("text", results[0].GetProperty("category_applied_input_types").GetProperty("hate")[0].GetString());
            Assert.True(results[1].GetProperty("category_scores").GetProperty("violence").GetDouble() > 0.5);
        }
    }

    [Theory]
    [InlineData("""{"model":"text-moderation-latest"}""", "'input' is a required property")]
    [InlineData("""{"input":[{"type":"audio"}]}""", "Invalid value for 'input'")]
    [InlineData("""{"input":[]}""", "'input' must not be empty")]
    public async Task A_bad_moderation_request_is_a_400_in_openais_shape(string json, string message)
    {
        var (status, body) = await PostAsync(json);
        using (body)
        {
            Assert.Equal(400, status);
            Assert.Contains(message, body.RootElement.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal("invalid_request_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
    }

    private ModerationGuardrail Guardrail(string? apiKey = "sk-mod") => new(
        new GuardrailDefinition { Name = "openai-moderation-pre", Type = OpenAiModerationSettings.TypeName, Modes = [GuardrailMode.PreCall], Settings = new OpenAiModerationSettings() },
        new OpenAiModerationSettings { ApiBase = new Uri(_mock.ApiBase), ApiKey = apiKey },
        // With an api_base the gateway's model groups are not consulted.
        _http, runtimes: null!);

    private static GuardrailCheck Check(params string[] texts) => new(GuardrailMode.PreCall, texts, Caller.Admin, "gpt-4o", "req-1");

    [Fact]
    public async Task A_flagged_text_is_blocked_naming_the_categories_and_a_clean_one_passes()
    {
        var blocked = await Guardrail().CheckAsync(Check("hello", "I hate all of them and want to hurt them"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, blocked.Action);
        Assert.Equal("Violated OpenAI moderation policy (hate, violence)", blocked.Reason);
        Assert.Equal(1, blocked.Counts["hate"]);
        Assert.DoesNotContain("hurt", blocked.Reason);

        var clean = await Guardrail().CheckAsync(Check("What is the capital of France?"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Allow, clean.Action);
    }

    [Fact]
    public async Task A_refused_key_fails_closed()
    {
        var verdict = await Guardrail("sk-wrong").CheckAsync(Check("hello"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, verdict.Action);
        Assert.Contains("HTTP 401", verdict.Reason);
    }
}
