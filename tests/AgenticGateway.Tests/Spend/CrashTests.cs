using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Spend;

/// <summary>kill -9 of a gateway process in the middle of a load: every request that got a 200 has its spend log after restart.</summary>
[Trait("Category", "integration")]
public class CrashTests(ITestOutputHelper output)
{
    private const string Master = "sk-master-key-for-crash-tests";

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Kill_9_mid_load_loses_no_acknowledged_spend_log(string backend)
    {
        var data = Directory.CreateTempSubdirectory("agw-crash-").FullName;
        var config = Path.Combine(data, "gateway.yaml");
        await File.WriteAllTextAsync(config, $$"""
            master_key: {{Master}}
            models:
              - {name: gpt-4o, provider: mock}
            """);
        var database = backend == "postgres" ? await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync() : null;
        var port = LocalServers.FreePort();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

        var first = await StartAsync(config, data, database, port, client);
        string key;
        var acknowledged = new ConcurrentBag<string>();
        try
        {
            key = await GenerateKeyAsync(client);
            using var stop = new CancellationTokenSource();
            var load = Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                        {
                            Content = new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/json"),
                        };
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                        using var response = await client.SendAsync(request);
                        var body = await response.Content.ReadAsByteArrayAsync();
                        // Acknowledged: a complete 200 answer reached the client.
                        if (response.StatusCode == HttpStatusCode.OK && body.Length > 0) acknowledged.Add(response.Headers.GetValues("x-request-id").Single());
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException) { }
                }
            })));
            // Let the load run, then kill the process outright while requests are in flight.
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (acknowledged.Count < 300 && DateTime.UtcNow < deadline) await Task.Delay(20);
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
            stop.Cancel();
            await load;
        }
        finally
        {
            if (!first.HasExited) first.Kill(true);
        }
        output.WriteLine($"{acknowledged.Count} requests acknowledged before kill -9; write-ahead segments left: {Directory.GetFiles(Path.Combine(data, "spend-wal")).Length}");
        Assert.True(acknowledged.Count >= 50, "the load must have been running");

        var second = await StartAsync(config, data, database, port, client);
        try
        {
            var token = AgenticGateway.Keys.VirtualKey.HashOf(key);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/spend/logs?api_key={token}&limit=10000");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Master);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var logged = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray()
                .Select(l => l.GetProperty("request_id").GetString()!).ToHashSet();
            var missing = acknowledged.Where(id => !logged.Contains(id)).ToList();
            output.WriteLine($"{logged.Count} spend logs after restart; {missing.Count} acknowledged requests missing");
            Assert.Empty(missing);
        }
        finally
        {
            second.Kill(true);
            await second.WaitForExitAsync();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<string> GenerateKeyAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/key/generate") { Content = new StringContent("""{"key_alias": "load"}""", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Master);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>The gateway as its own process (the build output next to the tests), ready when /health/ready answers.</summary>
    private static async Task<Process> StartAsync(string config, string data, string? database, int port, HttpClient client)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "AgenticGateway.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "--config", config, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) }) info.ArgumentList.Add(a);
        info.Environment["AGW_DATA_DIR"] = data;
        info.Environment["DATABASE_URL"] = database ?? "";
        info.Environment["REDIS_URL"] = "";
        info.Environment["AGW__logging__level"] = "warning";
        var process = Process.Start(info)!;
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) break;
            try
            {
                using var ready = await client.GetAsync("/health/ready");
                if (ready.IsSuccessStatusCode) return process;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        if (!process.HasExited) process.Kill(true);
        lock (log) throw new InvalidOperationException($"the gateway did not start:\n{log}");
    }
}
