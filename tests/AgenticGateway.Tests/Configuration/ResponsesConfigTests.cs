using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// <c>responses.store_ttl</c>: how long stored responses are kept, 30 days (OpenAI's) unless set, in our schema and
/// beside a LiteLLM file (LiteLLM has no setting of its own for it); a bad value is an error at its path.
/// </summary>
[Trait("Category", "unit")]
public class ResponsesConfigTests
{
    private const string Own = "models: [{name: m, provider: mock}]\n";
    private const string LiteLlm = "model_list: [{model_name: m, litellm_params: {model: mock/m}}]\n";

    private static ConfigLoadResult Load(string yaml) =>
        ConfigLoader.Load(yaml, "test.yaml", new Dictionary<string, string>(), variables: new Dictionary<string, string>());

    [Theory]
    [InlineData(Own)]
    [InlineData(LiteLlm)]
    public void Stored_responses_are_kept_thirty_days_unless_set(string config)
    {
        Assert.Equal(TimeSpan.FromDays(30), Load(config).Options!.Responses.StoreTtl);
        Assert.Equal(TimeSpan.FromDays(7), Load(config + "responses: {store_ttl: 7d}\n").Options!.Responses.StoreTtl);
        Assert.Equal(TimeSpan.FromHours(12), Load(config + "responses:\n  store_ttl: 12h\n").Options!.Responses.StoreTtl);
        Assert.Equal(TimeSpan.FromDays(365), Load(config + "responses: {store_ttl: 365d}\n").Options!.Responses.StoreTtl);
        Assert.Equal(TimeSpan.FromSeconds(3600), Load(config + "responses: {store_ttl: 3600}\n").Options!.Responses.StoreTtl);
    }

    [Theory]
    [InlineData("store_ttl: 366d", "responses.store_ttl: expected a duration up to 365 days such as 30, \"30s\" or \"250ms\", got '366d'")]
    [InlineData("store_ttl: forever", "responses.store_ttl: expected a duration up to 365 days such as 30, \"30s\" or \"250ms\", got 'forever'")]
    [InlineData("store_ttl: 0", "responses.store_ttl: must be greater than zero")]
    [InlineData("store_ttl: 1d, keep: true", "responses.keep: unknown key")]
    public void A_bad_value_is_an_error_at_its_path(string section, string error)
    {
        foreach (var config in new[] { Own, LiteLlm })
        {
            var result = Load(config + $"responses: {{{section}}}\n");
            Assert.Null(result.Options);
            Assert.Equal(error, Assert.Single(result.Errors));
        }
    }

    [Theory]
    [InlineData(Own)]
    [InlineData(LiteLlm)]
    public void The_hosted_tool_loop_takes_eight_turns_unless_set(string config)
    {
        Assert.Equal(8, Load(config).Options!.Responses.MaxToolIterations);
        Assert.Equal(3, Load(config + "responses: {max_tool_iterations: 3}\n").Options!.Responses.MaxToolIterations);
        var refused = Load(config + "responses: {max_tool_iterations: 0}\n");
        Assert.Null(refused.Options);
        Assert.StartsWith("responses.max_tool_iterations:", Assert.Single(refused.Errors));
    }

    [Fact]
    public void Other_durations_keep_their_thirty_day_limit()
    {
        var result = Load(Own + "router: {timeout: 31d}\n");
        Assert.Equal("router.timeout: expected a duration up to 30 days such as 30, \"30s\" or \"250ms\", got '31d'", Assert.Single(result.Errors));
    }
}
