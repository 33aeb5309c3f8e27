using System.Text;
using AgenticGateway.Caching;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Caching;

/// <summary>The exact cache key and the per-request controls, as units.</summary>
[Trait("Category", "unit")]
public sealed class CacheKeyTests
{
    private static string Key(string body, string partition = "team:a", bool stream = false, string[]? guardrails = null, string? ns = null) =>
        CacheKeys.For(ns, partition, LlmOperation.ChatCompletions, "acompletion", "gpt-4o", Encoding.UTF8.GetBytes(body), stream, guardrails ?? []);

    [Fact]
    public void Order_whitespace_escapes_and_fields_that_do_not_change_the_answer_do_not_change_the_key()
    {
        var k = Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"temperature":0}""");
        Assert.Equal(k, Key("""
            { "temperature": 0, "messages": [ {"content":"H\u0069","role":"user"} ], "model":"alias-of-gpt-4o", "user":"u1",
              "metadata":{"x":1}, "tags":["t"], "cache":{"ttl":5}, "guardrails":["g"], "num_retries":3 }
            """));
        Assert.NotEqual(k, Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"temperature":1}"""));
        Assert.NotEqual(k, Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"temperature":0,"tools":[{"type":"function","function":{"name":"f"}}]}"""));
        Assert.NotEqual(k, Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0}"""));
    }

    [Fact]
    public void Partition_stream_output_guardrails_and_namespace_are_part_of_the_key()
    {
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}""";
        var k = Key(body);
        Assert.NotEqual(k, Key(body, partition: "team:b"));
        Assert.NotEqual(k, Key(body, stream: true));
        Assert.NotEqual(k, Key(body, guardrails: ["pii-mask"]));
        Assert.Equal(Key(body, guardrails: ["a", "b"]), Key(body, guardrails: ["b", "a"]));
        var spaced = Key(body, ns: "eval");
        Assert.StartsWith("eval:", spaced);
        Assert.NotEqual(k, spaced[5..]);
    }

    [Fact]
    public void Partitions_follow_the_configured_sharing()
    {
        var teamKey = new Caller(false, new KeyIdentity(new VirtualKey { Token = "tok1", KeyName = "sk-...1", TeamId = "t1" }, null, null));
        var soloKey = new Caller(false, new KeyIdentity(new VirtualKey { Token = "tok2", KeyName = "sk-...2" }, null, null));
        Assert.Equal("team:t1", CacheKeys.PartitionOf(teamKey, CachePartition.Team));
        Assert.Equal("key:tok2", CacheKeys.PartitionOf(soloKey, CachePartition.Team));
        Assert.Equal("key:tok1", CacheKeys.PartitionOf(teamKey, CachePartition.Key));
        Assert.Equal("global", CacheKeys.PartitionOf(teamKey, CachePartition.Global));
        Assert.Equal("admin", CacheKeys.PartitionOf(Caller.Admin, CachePartition.Team));
        Assert.Equal("anonymous", CacheKeys.PartitionOf(Caller.Anonymous, CachePartition.Team));
    }

    [Theory]
    [InlineData("""{"cache":{"no-cache":true}}""", null, true, false, null, null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"cache":{"no-store":true,"ttl":5}}""", null, false, true, 5, null)]
    [InlineData("""{"cache":{"s-maxage":30}}""", null, false, false, null, 30)]
    [InlineData("""{"cache":{"s-max-age":30}}""", null, false, false, null, 30)]
    [InlineData("""{"model":"m"}""", "no-cache, max-age=10", true, false, null, 10)]
    [InlineData("""{"model":"m"}""", "no-store", false, true, null, null)]
    public void Controls_are_read_from_the_body_and_the_header(string body, string? header, bool noCache, bool noStore, int? ttl, int? maxAge)
    {
        Assert.Null(CacheControl.TryRead(Encoding.UTF8.GetBytes(body), header, out var c));
        Assert.Equal(noCache, c.NoCache);
        Assert.Equal(noStore, c.NoStore);
        Assert.Equal(ttl, (int?)c.Ttl?.TotalSeconds);
        Assert.Equal(maxAge, (int?)c.MaxAge?.TotalSeconds);
    }

    [Theory]
    [InlineData("""{"cache":"yes"}""")]
    [InlineData("""{"cache":{"ttl":-1}}""")]
    [InlineData("""{"cache":{"no-cache":"true"}}""")]
    [InlineData("""{"cache":{"namespace":""}}""")]
    public void Malformed_controls_are_refused_naming_the_cache_param(string body)
    {
        var error = CacheControl.TryRead(Encoding.UTF8.GetBytes(body), null, out _);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal("cache", error.Param);
    }

    [Fact]
    public void Sse_error_events_are_recognised_in_every_client_format()
    {
        Assert.False(SseErrors.HasErrorEvent("data: {\"id\":\"x\",\"choices\":[]}\n\ndata: [DONE]\n\n"u8));
        Assert.True(SseErrors.HasErrorEvent("data: {\"id\":\"x\"}\n\ndata: {\"error\":{\"message\":\"m\"}}\n\n"u8));
        Assert.True(SseErrors.HasErrorEvent("event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n"u8));
        Assert.True(SseErrors.HasErrorEvent("event: response.failed\ndata: {}\n\n"u8));
    }

    [Fact]
    public void A_lone_surrogate_escape_is_a_JsonException_the_callers_catch_not_an_InvalidOperationException()
    {
        Assert.Throws<System.Text.Json.JsonException>(() => Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"\ud800"}]}"""));
        Assert.Null(SemanticText.Of(LlmOperation.ChatCompletions, Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":"\ud800"}]}""")));
    }
}
