using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Sandboxes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Guardrails.Tools;

/// <summary>sandbox_output guardrails on real runs (bubblewrap): the execute API's JSON and SSE, and the sandbox MCP server's results.</summary>
[Trait("Category", "sandbox")]
public class SandboxOutputGuardrailsTests : IAsyncLifetime
{
    private SandboxGateway _sandboxes = null!;

    public async Task InitializeAsync() => _sandboxes = await SandboxGateway.StartAsync(extra: """
        guardrails:
          - guardrail_name: sandbox-pii
            litellm_params:
              guardrail: presidio
              mode: sandbox_output
              pii_entities_config:
                EMAIL_ADDRESS: MASK
                CREDIT_CARD: BLOCK
              default_on: true
        """);

    public async Task DisposeAsync() => await _sandboxes.DisposeAsync();

    [Fact]
    public async Task Printed_output_is_masked_even_when_an_address_is_printed_in_two_writes()
    {
        var id = await _sandboxes.CreateAsync();
        var result = await _sandboxes.ExecAsync(id, "import sys\nsys.stdout.write('mail ann@exa'); sys.stdout.flush()\nsys.stdout.write('mple.com now\\n')\nprint('bob@example.org', file=sys.stderr)");
        Assert.Equal("mail <EMAIL_ADDRESS> now\n", result.GetProperty("stdout").GetString());
        Assert.Equal("<EMAIL_ADDRESS>\n", result.GetProperty("stderr").GetString());
    }

    [Fact]
    public async Task A_streamed_run_is_released_masked_as_the_same_events()
    {
        var id = await _sandboxes.CreateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/execute")
        {
            Content = new StringContent("""{"code":"print('write to ann@example.com')","stream":true}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Authorization", "Bearer " + SandboxGateway.Master);
        using var response = await _sandboxes.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("event: stdout", text);
        Assert.Contains("event: done", text);
        // The SSE writer escapes '<' and '>' in JSON; the data decodes to the masked text.
        Assert.Contains("write to \\u003CEMAIL_ADDRESS\\u003E", text);
        Assert.DoesNotContain("ann@example.com", text);
    }

    [Fact]
    public async Task A_blocked_entity_refuses_the_output_with_a_400()
    {
        var id = await _sandboxes.CreateAsync();
        var (status, body) = await _sandboxes.PostAsync($"/v1/sandboxes/{id}/execute", """{"code":"print('4111 1111 1111 1111')"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("guardrail_violation", error.GetProperty("code").GetString());
        Assert.Contains("The guardrail 'sandbox-pii' blocked the output of this run", error.GetProperty("message").GetString());
        Assert.DoesNotContain("4111", body.ToString());
    }

    [Fact]
    public async Task The_sandbox_mcp_servers_results_are_sandbox_output_too()
    {
        var key = await _sandboxes.NewKeyAsync();
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(_sandboxes.Server.Url + "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + key },
        }));
        var result = await client.CallToolAsync("sandbox-run_code", new Dictionary<string, object?> { ["code"] = "print('ann' + '@example.com')" });
        var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        Assert.Contains("<EMAIL_ADDRESS>", text);
        Assert.DoesNotContain("ann@example.com", text);
        if (result.StructuredContent is { } structured) Assert.DoesNotContain("ann@example.com", structured.GetRawText());
    }

    [Fact]
    public async Task A_commands_output_is_masked_and_a_blocked_one_is_refused()
    {
        var id = await _sandboxes.CreateAsync();
        var masked = await _sandboxes.RunAsync(id, "echo mail ann@example.com; echo bob@example.org >&2");
        Assert.Equal("mail <EMAIL_ADDRESS>\n", masked.GetProperty("stdout").GetString());
        Assert.Equal("<EMAIL_ADDRESS>\n", masked.GetProperty("stderr").GetString());
        Assert.Equal(0, masked.GetProperty("exit_code").GetInt32());

        var (status, body) = await _sandboxes.PostAsync($"/v1/sandboxes/{id}/commands", """{"cmd":"printf '4111 1111'; printf ' 1111 1111\\n'"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("guardrail_violation", body.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("4111 1111 1111 1111", body.ToString());
    }

    [Fact]
    public async Task A_streamed_command_is_released_masked()
    {
        var id = await _sandboxes.CreateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/commands")
        {
            Content = new StringContent("""{"cmd":"echo to ann@example.com","stream":true}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Authorization", "Bearer " + SandboxGateway.Master);
        using var response = await _sandboxes.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("event: done", text);
        Assert.Contains("to \\u003CEMAIL_ADDRESS\\u003E", text);
        Assert.DoesNotContain("ann@example.com", text);
    }

    [Fact]
    public async Task A_background_commands_output_is_masked_when_read()
    {
        var id = await _sandboxes.CreateAsync();
        // The address is split in the command so only its output holds it whole.
        var started = await _sandboxes.RunAsync(id, "echo ann@exa''mple.com", "\"background\":true");
        var pid = started.GetProperty("pid").GetInt64();
        JsonElement state = default;
        for (var i = 0; i < 100; i++)
        {
            (_, state) = await _sandboxes.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/processes/{pid}");
            if (!state.GetProperty("running").GetBoolean()) break;
            await Task.Delay(100);
        }
        Assert.Equal("<EMAIL_ADDRESS>\n", state.GetProperty("stdout").GetString());
        Assert.DoesNotContain("ann@example.com", state.ToString());
    }

    [Fact]
    public async Task A_runs_decisions_are_in_a_spend_log_row_at_cost_zero()
    {
        var id = await _sandboxes.CreateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/execute")
        {
            Content = new StringContent("""{"code":"print('4111 ' + '1111 ' * 2 + '1111')"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Authorization", "Bearer " + SandboxGateway.Master);
        using var response = await _sandboxes.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var requestId = response.Headers.GetValues("x-request-id").Single();

        await _sandboxes.Server.FlushSpendAsync();
        var (_, logs) = await _sandboxes.SendAsync(HttpMethod.Get, "/spend/logs?request_id=" + requestId);
        var row = Assert.Single(logs.EnumerateArray());
        Assert.Equal("sandbox_execute", row.GetProperty("call_type").GetString());
        Assert.Equal(0, row.GetProperty("spend").GetDouble());
        var information = row.GetProperty("metadata").GetProperty("guardrail_information").ToString();
        Assert.Contains("sandbox-pii", information);
        Assert.DoesNotContain("4111", information);
    }

    private async Task<List<(string Event, string Data, TimeSpan At)>> StreamAsync(string id, string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/execute")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { code, stream = true }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Authorization", "Bearer " + SandboxGateway.Master);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await _sandboxes.Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string, string, TimeSpan)>();
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add((name ?? "message", line[6..], clock.Elapsed));
        }
        return events;
    }

    [Fact]
    public async Task A_streamed_run_goes_out_as_it_runs_masked_across_event_boundaries()
    {
        var id = await _sandboxes.CreateAsync();
        var events = await StreamAsync(id, "import sys, time\nsys.stdout.write('word ' * 400 + 'mail ann@exa'); sys.stdout.flush()\ntime.sleep(0.5)\n"
            + "sys.stdout.write('mple.com now\\n'); sys.stdout.flush()\ntime.sleep(3)\nprint('end')");
        var stdout = events.Where(e => e.Event == "stdout").ToList();
        var done = events.Single(e => e.Event == "done");
        // The first output went out while the run was still sleeping, not when it ended.
        Assert.True(done.At - stdout[0].At > TimeSpan.FromSeconds(2), $"first stdout at {stdout[0].At}, done at {done.At}");
        var text = string.Concat(stdout.Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("data").GetString()));
        Assert.Equal(string.Concat(Enumerable.Repeat("word ", 400)) + "mail <EMAIL_ADDRESS> now\nend\n", text);
    }

    [Fact]
    public async Task A_block_in_a_streamed_run_ends_it_with_an_error_event()
    {
        var id = await _sandboxes.CreateAsync();
        var events = await StreamAsync(id, "import sys, time\nprint('fine ' * 300, flush=True)\ntime.sleep(0.5)\nprint('4111 ' + '1111 ' * 2 + '1111', flush=True)\ntime.sleep(0.5)\nprint('after')");
        Assert.Contains(events, e => e.Event == "stdout");
        var last = events[^1];
        Assert.Equal("error", last.Event);
        Assert.Equal("guardrail_violation", JsonDocument.Parse(last.Data).RootElement.GetProperty("code").GetString());
        Assert.DoesNotContain(events, e => e.Data.Contains("4111 1111") || e.Data.Contains("after") || e.Event == "done");
    }
}
