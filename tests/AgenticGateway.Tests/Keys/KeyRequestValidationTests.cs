using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Keys;

/// <summary>Management bodies that parse as JSON but cannot be decoded are a 400 in OpenAI's shape, not a 500.</summary>
[Trait("Category", "functional")]
public class KeyRequestValidationTests : IAsyncLifetime
{
    private const string Master = "sk-keys-master";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync($$"""
        master_key: {{Master}}
        models:
          - {name: gpt-4o, provider: mock}
        """);

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private async Task<(HttpStatusCode Status, JsonElement Error)> PostAsync(string path, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Headers.Authorization = new("Bearer", Master);
        using var response = await _gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(text.Length > 0, $"HTTP {(int)response.StatusCode} with an empty body");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("error"));
    }

    [Theory]
    [InlineData("/key/block", """{"key":"\ud800"}""")]
    [InlineData("/key/delete", """{"keys":["a\udc00b"]}""")]
    [InlineData("/key/generate", """{"models":["gpt-4o"],"budget_duration":"\ud800"}""")]
    [InlineData("/team/new", """{"team_alias":"t","metadata":{"\udfff":"x"}}""")]
    [InlineData("/user/new", """{"user_id":"u","user_role":"\ud800\u0041"}""")]
    public async Task Unpaired_surrogate_escapes_are_a_400(string path, string json)
    {
        var (status, error) = await PostAsync(path, Encoding.ASCII.GetBytes(json));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_encoding", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/key/unblock")]
    [InlineData("/team/delete")]
    [InlineData("/user/update")]
    public async Task Bytes_that_are_not_utf8_are_a_400(string path)
    {
        var (status, error) = await PostAsync(path, [.. "{\"key\":\"sk-"u8, 0xf5, 0x80, .. "\",\"team_ids\":[\"x\"],\"user_id\":\"u\"}"u8]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_encoding", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Trailing_data_after_the_object_is_a_400()
    {
        var (status, error) = await PostAsync("/key/generate", "{} {}"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_json", error.GetProperty("code").GetString());
    }
}
