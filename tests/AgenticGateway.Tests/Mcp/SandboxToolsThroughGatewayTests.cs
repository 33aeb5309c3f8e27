using AgenticGateway.Tests.Sandboxes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Mcp;

/// <summary>The built-in sandbox server behind /mcp: a key's own sandbox, its state kept between calls.</summary>
[Trait("Category", "sandbox")]
public class SandboxToolsThroughGatewayTests
{
    [Fact]
    public async Task A_key_runs_code_and_files_in_its_own_sandbox_through_mcp()
    {
        await using var sandboxes = await SandboxGateway.StartAsync("pools: {}");
        var key = await sandboxes.NewKeyAsync();
        var other = await sandboxes.NewKeyAsync();
        Task<McpClient> Client(string k) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(sandboxes.Server.Url + "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + k },
        }));
        await using var client = await Client(key);
        var names = (await client.ListToolsAsync()).Select(t => t.Name).ToHashSet();
        foreach (var tool in new[] { "run_code", "run_command", "read_file", "write_file", "list_files" }) Assert.Contains("sandbox-" + tool, names);

        var first = await client.CallToolAsync("sandbox-run_code", new Dictionary<string, object?> { ["code"] = "x = 20" });
        Assert.NotEqual(true, first.IsError);
        var second = await client.CallToolAsync("sandbox-run_code", new Dictionary<string, object?> { ["code"] = "print(x + 22)" });
        Assert.Contains("42", Text(second));
        Assert.NotEqual(true, (await client.CallToolAsync("sandbox-write_file", new Dictionary<string, object?> { ["path"] = "notes.txt", ["content"] = "mine" })).IsError);
        Assert.Equal("mine", Text(await client.CallToolAsync("sandbox-read_file", new Dictionary<string, object?> { ["path"] = "notes.txt" })));

        // Another key has a sandbox of its own: the file is not there.
        await using var theirs = await Client(other);
        var read = await theirs.CallToolAsync("sandbox-read_file", new Dictionary<string, object?> { ["path"] = "notes.txt" });
        Assert.True(read.IsError);
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
}
