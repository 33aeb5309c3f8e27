using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Observability;

/// <summary>The JSON access log of a real gateway process: one line per request, who and what it cost, never the key.</summary>
[Trait("Category", "deploy")]
public class AccessLogTests
{
    [Fact]
    public async Task Each_request_logs_one_json_line_with_key_alias_team_model_tokens_and_cost_but_never_the_key()
    {
        var data = Directory.CreateTempSubdirectory("agw-log-").FullName;
        var url = $"http://127.0.0.1:{LocalServers.FreePort()}";
        var config = Path.Combine(data, "config.yaml");
        await File.WriteAllTextAsync(config, $"""
            master_key: sk-log-master
            models:
              - {"{"}name: gpt-4o, provider: mock, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002{"}"}
            logging: {"{"}format: json{"}"}
            storage: {"{"}data_dir: {data}{"}"}
            server: {"{"}urls: "{url}"{"}"}
            """);
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var dll = typeof(AgenticGateway.Hosting.GatewayApp).Assembly.Location;
        using var child = Process.Start(new ProcessStartInfo("dotnet", [dll, "--config", config]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        child.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try { if ((await http.GetAsync("/health/live")).IsSuccessStatusCode) break; }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline) { }
                await Task.Delay(100);
            }
            async Task<JsonElement> Admin(string path, string json)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-log-master");
                using var response = await http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, text);
                return JsonDocument.Parse(text).RootElement.Clone();
            }
            var team = (await Admin("/team/new", """{"team_alias":"search"}""")).GetProperty("team_id").GetString()!;
            var key = (await Admin("/key/generate", $$"""{"key_alias":"ci-bot","team_id":"{{team}}"}""")).GetProperty("key").GetString()!;
            using (var chat = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/json") })
            {
                chat.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                chat.Headers.Add("x-request-id", "log-test-1");
                using var response = await http.SendAsync(chat);
                Assert.True(response.IsSuccessStatusCode);
            }

            JsonElement? access = null;
            for (var i = 0; i < 100 && access is null; i++)
            {
                access = lines.Select(TryParse).FirstOrDefault(e => e is { } j && j.TryGetProperty("State", out var s) && s.TryGetProperty("RequestId", out var r) && r.GetString() == "log-test-1");
                if (access is null) await Task.Delay(50);
            }
            Assert.True(access is not null, "no access line for the request in:\n" + string.Join("\n", lines));
            var state = access.Value.GetProperty("State");
            // A shipped JSON line carries its own time (UTC, as the text format's), not the collector's.
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", access.Value.GetProperty("Timestamp").GetString());
            Assert.Equal("ci-bot", state.GetProperty("KeyAlias").GetString());
            Assert.Equal(team, state.GetProperty("Team").GetString());
            Assert.Equal("gpt-4o", state.GetProperty("Model").GetString());
            Assert.Equal("200", state.GetProperty("Status").ToString());
            Assert.True(long.Parse(state.GetProperty("InputTokens").ToString()) > 0);
            Assert.True(decimal.Parse(state.GetProperty("CostUsd").ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0);
            Assert.All(lines, l => Assert.DoesNotContain(key, l));
            Assert.All(lines, l => Assert.DoesNotContain("sk-log-master", l));
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync();
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }

    private static JsonElement? TryParse(string line)
    {
        try { return JsonDocument.Parse(line).RootElement.Clone(); }
        catch (JsonException) { return null; }
    }
}
