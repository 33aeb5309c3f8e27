using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Api;

/// <summary>
/// A bounded, reproducible fuzz of the whole gateway (LLM, key, team, user, spend, sandbox and file APIs, and the
/// HTTP layer under them) on a real gateway with a master key, a virtual key and real bubblewrap sandboxes: no
/// malformed request may get a 5xx, a 4xx without its API's JSON error shape, or no answer at all.
/// </summary>
[Trait("Category", "sandbox")]
public sealed class MalformedInputFuzzTests(ITestOutputHelper output)
{
    private const string Master = "sk-fuzz-master-key";

    /// <summary>Fixed, so a failure reproduces; AGW_FUZZ_SEED and AGW_FUZZ_COUNT explore further.</summary>
    private const int DefaultSeed = 1312;
    private const int DefaultCount = 6000;

    [Fact]
    public async Task Malformed_requests_get_a_4xx_in_the_api_error_shape_never_a_5xx_or_silence()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("AGW_FUZZ_SEED"), out var s) ? s : DefaultSeed;
        var count = int.TryParse(Environment.GetEnvironmentVariable("AGW_FUZZ_COUNT"), out var n) ? n : DefaultCount;
        // One request of a failing run, by its index, to debug it alone.
        IEnumerable<int> indexes = int.TryParse(Environment.GetEnvironmentVariable("AGW_FUZZ_ONLY"), out var only) ? [only] : Enumerable.Range(0, count);
        await using var upstream = await EmulatorServer.StartAsync(apiKey: "sk-up");
        var u = upstream.Url;
        await using var gateway = await GatewayServer.StartAsync($$"""
            server:
              max_request_body_bytes: 65536
            master_key: {{Master}}
            models:
              - {name: gpt-4o, provider: mock}
              - {name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{{u}}", api_key: sk-up}
              - {name: gemini, provider: gemini, model: gemini-2.5-flash, api_base: "{{u}}", api_key: sk-up}
              - {name: bedrock, provider: bedrock, model: "anthropic.claude-3-5-sonnet-20240620-v1:0", api_base: "{{u}}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: sk-up}
              - {name: gpt, provider: openai_compatible, model: gpt-4o, api_base: "{{u}}/v1", api_key: sk-up}
            sandboxes:
              pools:
                python: {min_ready: 1, max_total: 40}
            """, kestrel: k =>
        {
            // Short, so stalled requests are answered within the test's time: headers within a second, and a body
            // that stops after 40 KB (the largest mutated body) is found below the rate 2 s after it started.
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1);
            k.Limits.MinRequestBodyDataRate = new MinDataRate(20_000, TimeSpan.FromSeconds(2));
        });
        var virtualKey = await gateway.GenerateKeyAsync("""{"models":["gpt-4o","claude","gemini","bedrock","gpt"]}""", Master);
        var sandbox = await CreateSandboxAsync(gateway);
        var timeoutSandbox = await CreateSandboxAsync(gateway);
        var generator = new MalformedRequests(seed, new FuzzTargets(Master, virtualKey, sandbox, timeoutSandbox));

        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var kinds = new ConcurrentDictionary<string, int>();
        int serverErrors = 0, unshaped = 0, unanswered = 0, created = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(indexes, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var c = generator.Generate(i);
            kinds.AddOrUpdate(c.Kind.Split(':', ' ')[0], 1, (_, v) => v + 1);
            var exchange = await RawHttp.SendAsync(new Uri(gateway.Url), c.Parts, c.HalfClose, c.Timeout, c.Head);
            var problems = new List<string>();
            if (exchange.TimedOut) problems.Add($"no complete answer within {c.Timeout.TotalSeconds:0}s");
            var http2 = c.AllowsHttp2 && !exchange.Raw.AsSpan().StartsWith("HTTP/"u8);
            if (!http2 && exchange.Malformed) problems.Add("the answer is not well-formed HTTP/1.1");
            // A client that closes its side has left, for Kestrel: whether an answer still gets out is a race.
            if (!http2 && !c.HalfClose && exchange.Responses.Count == 0) { problems.Add("no response"); Interlocked.Increment(ref unanswered); }
            foreach (var r in exchange.Responses)
            {
                statuses.AddOrUpdate(r.Status, 1, (_, v) => v + 1);
                if (r.Status >= 500) { problems.Add($"HTTP {r.Status}"); Interlocked.Increment(ref serverErrors); }
                if (r.Status >= 400 && !c.Head && ShapeError(r, c.Shape) is { } shapeError)
                {
                    problems.Add($"HTTP {r.Status} {shapeError}");
                    Interlocked.Increment(ref unshaped);
                }
                if (c.CreatesSandbox && r.Status == 201)
                {
                    // A create that succeeded: delete it, so the fuzz holds no more than a few sandboxes.
                    Interlocked.Increment(ref created);
                    using var doc = JsonDocument.Parse(r.Body);
                    var id = doc.RootElement.GetProperty("id").GetString();
                    using var deleted = await SendAsync(gateway, HttpMethod.Delete, $"/v1/sandboxes/{id}");
                    Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
                }
            }
            if (problems.Count > 0)
                failures.Enqueue($"#{c.Index} {c.Kind}: {string.Join("; ", problems)}\n  request: {RawHttp.Printable(c.Bytes)}\n  answer: {RawHttp.Printable(exchange.Raw, 600)}");
        });

        var summary = $"fuzz seed {seed}: {count} requests in {clock.Elapsed.TotalSeconds:0}s ({string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}); "
            + $"statuses {string.Join(", ", statuses.OrderBy(x => x.Key).Select(x => $"{x.Key}x{x.Value}"))}; "
            + $"5xx {serverErrors}, 4xx without the error shape {unshaped}, unanswered {unanswered}, sandboxes created and deleted {created}";
        output.WriteLine(summary);
        if (Environment.GetEnvironmentVariable("AGW_FUZZ_REPORT") is { Length: > 0 } report) await File.WriteAllLinesAsync(report, [summary, .. failures]);
        Console.WriteLine(summary);
        Assert.True(failures.IsEmpty, $"{summary}\n{failures.Count} failing requests (reproduce with AGW_FUZZ_SEED={seed}, one alone with AGW_FUZZ_ONLY=<#>); the first:\n{string.Join("\n\n", failures.Take(15))}");

        // Still healthy: it answers, a model and a sandbox still work, and no created sandbox was left behind.
        using (var health = await gateway.Client.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var chat = await gateway.ChatAsync(virtualKey)) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using (var exec = await SendAsync(gateway, HttpMethod.Post, $"/v1/sandboxes/{sandbox}/execute", """{"code":"print(6*7)"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, exec.StatusCode);
            using var doc = JsonDocument.Parse(await exec.Content.ReadAsStringAsync());
            Assert.Equal("42\n", doc.RootElement.GetProperty("output").GetString());
        }
        using (var list = await SendAsync(gateway, HttpMethod.Get, "/v1/sandboxes"))
        {
            using var doc = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
            // The fuzz may have shortened the second one's life (POST .../timeout with 1.5).
            var left = doc.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
            Assert.Contains(sandbox, left);
            Assert.Empty(left.Except([sandbox, timeoutSandbox]));
        }
        foreach (var id in new[] { sandbox, timeoutSandbox }) (await SendAsync(gateway, HttpMethod.Delete, $"/v1/sandboxes/{id}")).Dispose();
    }

    /// <summary>What is wrong with an error response's body for its API, or null when it has the shape.</summary>
    internal static string? ShapeError(RawHttp.Response response, Shape shape)
    {
        if (response.Header("Content-Type") is not { } type || !type.StartsWith("application/json", StringComparison.Ordinal))
            return $"has Content-Type '{response.Header("Content-Type")}', not application/json (body '{RawHttp.Printable(response.Body, 200)}')";
        JsonElement root;
        try { root = JsonDocument.Parse(response.Body).RootElement; }
        catch (JsonException) { return $"body is not JSON: '{RawHttp.Printable(response.Body, 200)}'"; }
        var openAi = IsOpenAi(root);
        var anthropic = IsAnthropic(root);
        return shape switch
        {
            Shape.OpenAi when !openAi => $"body is not OpenAI's error shape: {response.Text}",
            Shape.Anthropic when !anthropic => $"body is not Anthropic's error shape: {response.Text}",
            Shape.Either when !openAi && !anthropic => $"body is in no API's error shape: {response.Text}",
            _ => null,
        };
    }

    /// <summary><c>{"error":{"message","type","param","code"}}</c>: message and type strings, param and code present.</summary>
    private static bool IsOpenAi(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
        && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
        && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
        && e.TryGetProperty("param", out var p) && p.ValueKind is JsonValueKind.String or JsonValueKind.Null
        && e.TryGetProperty("code", out var c) && c.ValueKind is JsonValueKind.String or JsonValueKind.Null or JsonValueKind.Number;

    /// <summary><c>{"type":"error","error":{"type","message"}}</c>.</summary>
    private static bool IsAnthropic(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("error")
        && root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
        && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
        && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String;

    private static async Task<string> CreateSandboxAsync(GatewayServer gateway)
    {
        using var response = await SendAsync(gateway, HttpMethod.Post, "/v1/sandboxes", """{"runtime":"python","timeout":900}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("id").GetString()!;
    }

    private static Task<HttpResponseMessage> SendAsync(GatewayServer gateway, HttpMethod method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Master);
        return gateway.Client.SendAsync(request);
    }
}
