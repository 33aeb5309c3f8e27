using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Services.Mcp;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>The MCP guardrail modes on a tool call's arguments and result: masks keep the JSON's shape, a block is a tool error.</summary>
[Trait("Category", "unit")]
public class McpGuardrailsTests
{
    private static Dictionary<string, JsonElement> Args(string json) =>
        JsonDocument.Parse(json).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());

    [Fact]
    public async Task Pre_mcp_call_masks_every_string_of_the_arguments_in_place()
    {
        var fake = new FakeContentGuardrails(GuardrailMode.PreMcpCall);
        var (args, check) = await new McpGuardrails(fake).ArgumentsAsync(GuardrailMode.PreMcpCall,
            Args("""{"to":"ann@example.com","count":3,"cc":["bob@example.org","ok"],"meta":{"note":"ping ann@example.com","flag":true}}"""),
            Caller.Admin, "req", "mail-send", CancellationToken.None);

        Assert.NotNull(check);
        Assert.Equal(["ann@example.com", "bob@example.org", "ok", "ping ann@example.com"], Assert.Single(fake.Calls).Texts);
        Assert.Equal("<EMAIL_ADDRESS>", args!["to"].GetString());
        Assert.Equal(3, args["count"].GetInt32());
        Assert.Equal("""["<EMAIL_ADDRESS>","ok"]""", args["cc"].GetRawText());
        Assert.Equal("""{"note":"ping <EMAIL_ADDRESS>","flag":true}""", args["meta"].GetRawText());
    }

    [Fact]
    public async Task Nothing_is_collected_when_no_guardrail_runs_in_the_mode()
    {
        var fake = new FakeContentGuardrails(GuardrailMode.PostMcpCall);
        var original = Args("""{"to":"ann@example.com"}""");
        var (args, check) = await new McpGuardrails(fake).ArgumentsAsync(GuardrailMode.PreMcpCall, original, Caller.Admin, "req", "t", CancellationToken.None);
        Assert.Same(original, args);
        Assert.Null(check);
        Assert.Empty(fake.Calls);
        Assert.False(new McpGuardrails(null).Any(Caller.Admin, GuardrailMode.PreMcpCall));
    }

    [Fact]
    public async Task A_blocked_argument_is_a_tool_error_naming_the_guardrail_not_the_content()
    {
        var (_, check) = await new McpGuardrails(new FakeContentGuardrails(GuardrailMode.PreMcpCall)).ArgumentsAsync(GuardrailMode.PreMcpCall,
            Args("""{"q":"the forbidden query"}"""), Caller.Admin, "req", "search", CancellationToken.None);
        Assert.True(check!.Blocked);
        var error = McpGuardrails.Blocked(check, "the arguments of search");
        Assert.True(error.IsError);
        Assert.Equal("The guardrail 'fake' blocked the arguments of search: a forbidden word", Assert.IsType<TextContentBlock>(Assert.Single(error.Content)).Text);
    }

    [Fact]
    public async Task Post_mcp_call_masks_text_blocks_and_structured_content_and_keeps_other_blocks()
    {
        var result = new CallToolResult
        {
            Content = [new TextContentBlock { Text = "owner: ann@example.com" }, ImageContentBlock.FromBytes(new byte[] { 1, 2 }, "image/png")],
            StructuredContent = JsonDocument.Parse("""{"owner":"ann@example.com","id":7}""").RootElement.Clone(),
        };
        var (masked, check) = await new McpGuardrails(new FakeContentGuardrails(GuardrailMode.PostMcpCall)).ResultAsync(GuardrailMode.PostMcpCall, result, Caller.Admin, "req", "lookup", CancellationToken.None);
        Assert.False(check!.Blocked);
        Assert.Equal("owner: <EMAIL_ADDRESS>", Assert.IsType<TextContentBlock>(masked.Content[0]).Text);
        Assert.IsType<ImageContentBlock>(masked.Content[1]);
        Assert.Equal("""{"owner":"<EMAIL_ADDRESS>","id":7}""", masked.StructuredContent!.Value.GetRawText());
    }

    [Fact]
    public async Task Post_mcp_call_masks_embedded_text_resources_and_keeps_their_uri()
    {
        var result = new CallToolResult
        {
            Content =
            [
                new EmbeddedResourceBlock { Resource = new TextResourceContents { Uri = "file:///owners.txt", MimeType = "text/plain", Text = "owner: ann@example.com" } },
                new EmbeddedResourceBlock { Resource = BlobResourceContents.FromBytes(new byte[] { 1, 2 }, "file:///logo.png", "image/png") },
            ],
        };
        var (masked, check) = await new McpGuardrails(new FakeContentGuardrails(GuardrailMode.PostMcpCall)).ResultAsync(GuardrailMode.PostMcpCall, result, Caller.Admin, "req", "read", CancellationToken.None);
        Assert.False(check!.Blocked);
        var text = Assert.IsType<TextResourceContents>(Assert.IsType<EmbeddedResourceBlock>(masked.Content[0]).Resource);
        Assert.Equal("owner: <EMAIL_ADDRESS>", text.Text);
        Assert.Equal("file:///owners.txt", text.Uri);
        Assert.Equal("text/plain", text.MimeType);
        Assert.IsType<BlobResourceContents>(Assert.IsType<EmbeddedResourceBlock>(masked.Content[1]).Resource);
    }

    [Fact]
    public async Task A_blocked_result_is_replaced_by_a_tool_error()
    {
        var result = new CallToolResult { Content = [new TextContentBlock { Text = "forbidden data" }] };
        var (blocked, check) = await new McpGuardrails(new FakeContentGuardrails(GuardrailMode.PostMcpCall)).ResultAsync(GuardrailMode.PostMcpCall, result, Caller.Admin, "req", "dump", CancellationToken.None);
        Assert.True(check!.Blocked);
        Assert.True(blocked.IsError);
        Assert.DoesNotContain("forbidden data", Assert.IsType<TextContentBlock>(Assert.Single(blocked.Content)).Text);
    }

    [Fact]
    public void The_spend_logs_information_joins_the_checks_decisions()
    {
        var a = new AgenticGateway.Pipeline.ContentCheck([], null, null, """[{"guardrail_name":"a"}]""");
        var b = new AgenticGateway.Pipeline.ContentCheck([], null, null, """[{"guardrail_name":"b"},{"guardrail_name":"c"}]""");
        Assert.Equal("""[{"guardrail_name":"a"},{"guardrail_name":"b"},{"guardrail_name":"c"}]""", McpGuardrails.Information(a, null, b));
        Assert.Null(McpGuardrails.Information(null, null));
        using var _ = JsonDocument.Parse(McpGuardrails.Information(a, b)!);
    }
}
