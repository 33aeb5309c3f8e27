using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Deploy;

/// <summary>
/// deploy/ against a running gateway: the dashboards and alert rules ask only for metrics and labels that /metrics
/// really has, and the built gateway, run as compose runs it, serves as a non-root user and drains on SIGTERM.
/// </summary>
[Trait("Category", "deploy")]
public partial class DeployedGatewayTests
{
    private const string Master = "sk-deploy-master";
    /// <summary>Series Prometheus itself adds: `up` per target, and job and instance on every scraped series.</summary>
    private static readonly HashSet<string> PrometheusMetrics = ["up"];
    private static readonly HashSet<string> PrometheusLabels = ["job", "instance"];

    [Fact]
    public async Task Dashboards_and_alerts_use_only_metrics_and_labels_the_gateway_exports()
    {
        // Traffic that makes every family appear: success, a stream, failures with a retry and a fallback, a budget
        // refusal, Redis, and sandboxes from the pool and cold, executed and ended.
        var redis = await RedisInstance.SharedAsync();
        var yaml = $"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: mock{"}"}
              - {"{"}name: flaky, provider: mock, id: flaky-a, mock: {"{"}fault: "status=500"{"}"}{"}"}
              - {"{"}name: flaky, provider: mock, id: flaky-b, mock: {"{"}fault: "status=500"{"}"}{"}"}
            router:
              num_retries: 1
              retry_backoff: 0ms
              fallbacks: {"{"}flaky: [gpt-4o]{"}"}
            sandboxes: {"{"}pools: {"{"}python: {"{"}min_ready: 1, max_total: 4{"}"}{"}"}{"}"}
            """;
        await using var gateway = await GatewayServer.StartAsync(yaml, storage: s => s with { RedisUrl = new Secret("redis://" + redis.Endpoint) });
        using (var ok = await gateway.ChatAsync(Master)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var stream = await gateway.ChatAsync(Master, stream: true)) await stream.Content.ReadAsStringAsync();
        using (var fellBack = await gateway.ChatAsync(Master, model: "flaky"))
        {
            Assert.Equal(HttpStatusCode.OK, fellBack.StatusCode);
            Assert.Equal("1", fellBack.Headers.GetValues("x-agw-fallbacks").Single());
        }
        var poor = await gateway.GenerateKeyAsync("""{"max_budget": 0.000000001}""", Master);
        // A lone request runs while spend is below the budget; what it cost uses the budget up for the next.
        using (var first = await gateway.ChatAsync(poor)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var refused = await gateway.ChatAsync(poor)) Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await gateway.Client.GetStringAsync("/metrics")).Contains("sandbox_pool_ready{runtime=\"python\"} 1", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the python pool never had a ready sandbox");
            await Task.Delay(100);
        }
        var pooled = await CreateSandboxAsync(gateway, """{"runtime":"python"}""");
        var cold = await CreateSandboxAsync(gateway, """{"runtime":"python","memory_mb":256}""");
        var (execStatus, execBody) = await gateway.AdminAsync($"/v1/sandboxes/{pooled}/execute", """{"code":"1 + 1"}""", Master);
        Assert.True(execStatus == HttpStatusCode.OK, execBody.ToString());
        foreach (var id in new[] { pooled, cold })
        {
            var (deleted, deleteBody) = await gateway.AdminAsync($"/v1/sandboxes/{id}", null, Master, HttpMethod.Delete);
            Assert.True(deleted is HttpStatusCode.OK or HttpStatusCode.NoContent, $"{deleted}: {deleteBody}");
        }

        var exported = Exposition.Parse(await gateway.Client.GetStringAsync("/metrics"));
        Assert.True(exported.Value("llm_cost_usd_total") > 0, "llm_cost_usd_total should count the mock's priced requests");

        var queries = DashboardExpressions().Select(e => ("dashboard", e))
            .Concat(TemplateQueries().Select(e => ("dashboard variable", e)))
            .Concat(AlertExpressions().Select(e => ("alert", e)))
            .ToList();
        var problems = new List<string>();
        foreach (var (where, expression) in queries)
        {
            var refs = PromQlReferences.Of(expression);
            if (refs.Metrics.Count == 0) problems.Add($"{where}: no metric found in {expression}");
            foreach (var metric in refs.Metrics.Where(m => !PrometheusMetrics.Contains(m) && !exported.Labels.ContainsKey(m)))
                problems.Add($"{where}: {metric} is not exported ({expression})");
            var ours = refs.Metrics.Where(exported.Labels.ContainsKey).ToList();
            if (ours.Count == 0) continue;
            foreach (var label in refs.Labels.Where(l => !PrometheusLabels.Contains(l) && !ours.Any(m => exported.Labels[m].Contains(l))))
                problems.Add($"{where}: label {label} is on none of {string.Join(", ", ours)} ({expression})");
            foreach (var (label, value) in refs.Equalities.Where(e => !PrometheusLabels.Contains(e.Label)))
            {
                if (!ours.Any(m => exported.Values.Contains((m, label, value))))
                    problems.Add($"{where}: no series of {string.Join(", ", ours)} has {label}=\"{value}\" ({expression})");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task The_built_gateway_runs_as_compose_runs_it_as_a_non_root_user_and_drains_on_sigterm()
    {
        // We run as root in CI: setpriv drops to nobody (65534) as the container's USER does to 10001. The app is
        // copied, as the image has it in /app, so that nothing depends on the checkout being readable by others.
        Assert.True(Environment.IsPrivilegedProcess, "this test drops privileges with setpriv and needs to start as root (CI does)");
        var setpriv = LocalServers.Require("setpriv", [.. LocalServers.PathDirectories(), "/usr/bin", "/bin"], "util-linux");
        var work = Path.Combine("/tmp", "agw-deploy-" + Guid.NewGuid().ToString("N")[..12]);
        var app = Path.Combine(work, "app");
        var data = Path.Combine(work, "data");
        CopyDirectory(Path.GetDirectoryName(GatewayDll())!, app);
        File.Copy(Path.Combine(DeployDir, "config", "gateway.yaml"), Path.Combine(work, "config.yaml"));
        Directory.CreateDirectory(data);
        await RunAsync(["chown", "-R", "65534:65534", work], null, TimeSpan.FromSeconds(30));

        var postgres = await PostgresInstance.SharedAsync();
        var database = new Npgsql.NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync("deploy"));
        var redis = await RedisInstance.SharedAsync();
        var port = LocalServers.FreePort();
        var env = ComposeEnvironment(Master, $"postgresql://{database.Username}@{database.Host}:{database.Port}/{database.Database}", "redis://" + redis.Endpoint);
        env["AGW_CONFIG"] = Path.Combine(work, "config.yaml");
        // Where this machine differs from the container: the listening address and the data volume's path.
        env["AGW_URLS"] = $"http://127.0.0.1:{port}";
        env["AGW__storage__data_dir"] = data;
        env["HOME"] = data;
        // A slow stream, to be cut by nothing but the end of the drain.
        env["AGW__models__0__mock__tokens_per_second"] = "10";

        var info = new ProcessStartInfo(setpriv) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", DotnetHost(), Path.Combine(app, "AgenticGateway.dll") }) info.ArgumentList.Add(a);
        foreach (var (k, v) in env) info.Environment[k] = v;
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        string Output() { lock (output) return output.ToString(); }
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new("Bearer", Master);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                Assert.False(process.HasExited, $"the gateway exited with {(process.HasExited ? process.ExitCode : 0)} while starting:\n{Output()}");
                Assert.True(DateTime.UtcNow < deadline, $"/health/live did not answer 200 within 60 s:\n{Output()}");
                try
                {
                    using var live = await client.GetAsync("/health/live");
                    if (live.StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException) { }
                await Task.Delay(100);
            }
            var uid = File.ReadLines($"/proc/{process.Id}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal(["65534", "65534", "65534", "65534"], uid.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1..]);
            using (var ready = await client.GetAsync("/health/ready")) Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

            using (var chat = await client.PostAsync("/v1/chat/completions", Json(Chat.Request("mock-gpt", extra: ",\"max_tokens\":3"))))
                Assert.True(chat.StatusCode == HttpStatusCode.OK, $"{chat.StatusCode}: {await chat.Content.ReadAsStringAsync()}\n{Output()}");
            // A virtual key lands in PostgreSQL (database_url from the environment).
            using (var key = await client.PostAsync("/key/generate", Json("{}")))
                Assert.True(key.StatusCode == HttpStatusCode.OK, $"{key.StatusCode}: {await key.Content.ReadAsStringAsync()}\n{Output()}");
            await using (var connection = new Npgsql.NpgsqlConnection(database.ConnectionString))
            {
                await connection.OpenAsync();
                await using var tables = new Npgsql.NpgsqlCommand("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", connection);
                Assert.True((long)(await tables.ExecuteScalarAsync())! > 0, "the gateway created no tables in PostgreSQL");
            }

            // SIGTERM in the middle of a stream: the stream still completes, then the process exits 0 within the drain.
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json(Chat.Request("mock-gpt", stream: true, extra: ",\"max_tokens\":15")) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var first = await reader.ReadLineAsync();
            Assert.StartsWith("data:", first, StringComparison.Ordinal);
            var stopped = Stopwatch.StartNew();
            var (killCode, killOutput) = await RunAsync(["kill", "-TERM", process.Id.ToString()], null, TimeSpan.FromSeconds(10));
            Assert.True(killCode == 0, killOutput);
            var rest = await reader.ReadToEndAsync();
            Assert.True(rest.Contains("\"finish_reason\":\"length\"", StringComparison.Ordinal), "the stream did not reach its max_tokens:\n" + rest[^Math.Min(rest.Length, 700)..]);
            Assert.EndsWith("data: [DONE]", rest.TrimEnd(), StringComparison.Ordinal);
            Assert.True(stopped.Elapsed > TimeSpan.FromSeconds(1), $"the stream ended {stopped.Elapsed} after SIGTERM: it was not slow enough to show the drain");

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(35));
            try { await process.WaitForExitAsync(exit.Token); }
            catch (OperationCanceledException) { Assert.Fail($"the gateway did not exit within 35 s of SIGTERM:\n{Output()}"); }
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}:\n{Output()}");
            Assert.DoesNotContain("Unhandled exception", Output(), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    private static async Task<string> CreateSandboxAsync(GatewayServer gateway, string json)
    {
        var (status, body) = await gateway.AdminAsync("/v1/sandboxes", json, Master);
        Assert.True(status == HttpStatusCode.Created, $"{status}: {body}");
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>The samples of a Prometheus text exposition: label names per sample name, label values, and values.</summary>
    private sealed partial class Exposition
    {
        public Dictionary<string, HashSet<string>> Labels { get; } = new(StringComparer.Ordinal);
        public HashSet<(string Metric, string Label, string Value)> Values { get; } = [];
        private readonly Dictionary<string, double> _sums = new(StringComparer.Ordinal);

        public double Value(string metric) => _sums.GetValueOrDefault(metric);

        public static Exposition Parse(string text)
        {
            var result = new Exposition();
            foreach (var line in text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                var m = Sample().Match(line);
                Assert.True(m.Success, $"unparsable sample line: {line}");
                var name = m.Groups["name"].Value;
                var labels = result.Labels.TryGetValue(name, out var set) ? set : result.Labels[name] = new HashSet<string>(StringComparer.Ordinal);
                foreach (Match l in Label().Matches(m.Groups["labels"].Value))
                {
                    labels.Add(l.Groups["k"].Value);
                    result.Values.Add((name, l.Groups["k"].Value, l.Groups["v"].Value));
                }
                result._sums[name] = result._sums.GetValueOrDefault(name) + double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            return result;
        }

        [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)$")]
        private static partial Regex Sample();

        [GeneratedRegex(@"(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<v>(?:[^""\\]|\\.)*)""")]
        private static partial Regex Label();
    }
}
