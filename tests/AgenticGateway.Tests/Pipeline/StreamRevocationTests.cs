using System.Diagnostics;
using System.Net;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>A stream does not outlive its key: blocking or deleting the key (or blocking its team) ends it with an error event.</summary>
[Trait("Category", "functional")]
public class StreamRevocationTests
{
    private const string Master = "sk-master-key-for-stream-revocation";

    // 10 tokens a second over a 600-word answer: the stream would run for a minute.
    private static readonly string Config = $$"""
        master_key: {{Master}}
        models:
          - {name: gpt-4o, provider: mock, mock: {tokens_per_second: 10} }
        """;

    [Theory]
    [InlineData("block", "key_blocked")]
    [InlineData("delete", "invalid_api_key")]
    [InlineData("team", "team_blocked")]
    public async Task A_running_stream_ends_with_an_error_event_soon_after_its_key_loses_access(string change, string code)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var g = await GatewayServer.StartAsync(Config, time: clock);
        var (_, team) = await g.AdminAsync("/team/new", """{"team_alias": "streamers"}""", Master);
        var teamId = team.GetProperty("team_id").GetString()!;
        var key = await g.GenerateKeyAsync($$"""{"team_id": "{{teamId}}"}""", Master);
        var answer = string.Join(' ', Enumerable.Repeat("word", 600));
        using var response = await g.PostJsonAsync("/v1/chat/completions",
            Chat.Request("gpt-4o", stream: true, extra: $",\"mock_response\":\"{answer}\""), configure: r => r.Headers.Authorization = new("Bearer", key));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.NotNull(await reader.ReadLineAsync()); // the stream is under way
        // The next event leaves only after the first one's caller check, which set the clock time of the next check.
        string? next;
        do next = await reader.ReadLineAsync(); while (next == "");
        Assert.NotNull(next);

        var (status, _) = change switch
        {
            "block" => await g.AdminAsync("/key/block", $$"""{"key": "{{key}}"}""", Master),
            "delete" => await g.AdminAsync("/key/delete", $$"""{"keys": ["{{key}}"]}""", Master),
            _ => await g.AdminAsync("/team/update", $$"""{"team_id": "{{teamId}}", "blocked": true}""", Master),
        };
        Assert.Equal(HttpStatusCode.OK, status);
        var changed = Stopwatch.StartNew();
        // The gateway checks a running stream's caller again every CallerRecheckInterval of its clock.
        clock.Advance(ResponseRelay.CallerRecheckInterval);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var rest = await reader.ReadToEndAsync(timeout.Token);
        Assert.True(changed.Elapsed < TimeSpan.FromSeconds(15), $"the stream ran on for {changed.Elapsed.TotalSeconds:F1}s");
        Assert.Contains($"\"code\":\"{code}\"", rest, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", rest, StringComparison.Ordinal);
    }
}
