using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Services.Containers;
using AgenticGateway.Tests.Sandboxes;

namespace AgenticGateway.Tests.Containers;

/// <summary>
/// The hosted code interpreter's runner on real sandboxes: output, state across runs, figures saved as container
/// files, exceptions as failed runs, other owners' containers refused, and sandbox time charged.
/// </summary>
[Trait("Category", "sandbox")]
public class CodeInterpreterTests(ContainersGatewayFixture fixture) : IClassFixture<ContainersGatewayFixture>
{
    private SandboxGateway G => fixture.Gateway;
    private CodeInterpreter Interpreter => G.Server.Services.GetRequiredService<CodeInterpreter>();

    /// <summary>The caller the pipeline makes of a virtual key.</summary>
    private async Task<Caller> CallerOfAsync(string key)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        var identity = await G.Server.Services.GetRequiredService<KeyRegistry>().FindByTokenAsync(hash, CancellationToken.None);
        Assert.NotNull(identity);
        return new Caller(false, identity);
    }

    [Fact]
    public async Task A_run_without_a_container_makes_one_and_the_next_run_keeps_its_state()
    {
        var run = await Interpreter.RunAsync(Caller.Admin, null, "x = 6*7\nprint(x)", "req-print", CancellationToken.None);
        Assert.Equal("42\n", run.Logs);
        Assert.False(run.Failed);
        Assert.Null(run.Error);
        Assert.Empty(run.Images);
        Assert.True(run.SandboxSeconds > 0);
        Assert.Matches("^cntr_[0-9a-f]{20}$", run.ContainerId);

        // The container is listed by the containers API, and a second run there sees the first one's variables; the
        // last expression's value is logged as a notebook shows it.
        var (status, container) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{run.ContainerId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(CodeInterpreter.AutoName, container.GetProperty("name").GetString());
        var again = await Interpreter.RunAsync(Caller.Admin, run.ContainerId, "x + 1", "req-again", CancellationToken.None);
        Assert.Equal(run.ContainerId, again.ContainerId);
        Assert.Equal("43", again.Logs);
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{run.ContainerId}");
    }

    [Fact]
    public async Task A_matplotlib_figure_becomes_a_container_file_to_download()
    {
        var run = await Interpreter.RunAsync(Caller.Admin, null, """
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            plt.plot([1, 2, 3], [1, 4, 9])
            plt.show()
            print("plotted")
            """, "req-plot", CancellationToken.None);
        Assert.False(run.Failed, run.Logs);
        Assert.Contains("plotted", run.Logs);
        var image = Assert.Single(run.Images);
        Assert.Equal("image/png", image.MimeType);
        Assert.Equal(run.ContainerId, image.ContainerId);
        Assert.Matches("^cfile_[0-9a-f]{32}$", image.FileId);
        Assert.StartsWith("/home/user/", image.Path);

        var (status, file) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{run.ContainerId}/files/{image.FileId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(image.Path, file.GetProperty("path").GetString());
        Assert.Equal("assistant", file.GetProperty("source").GetString());
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/containers/{run.ContainerId}/files/{image.FileId}/content");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var response = await G.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var png = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Equal(file.GetProperty("bytes").GetInt64(), png.Length);
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{run.ContainerId}");
    }

    [Fact]
    public async Task An_exception_is_a_failed_run_with_its_traceback()
    {
        var run = await Interpreter.RunAsync(Caller.Admin, null, "print('before')\ndef f():\n    return 1 / 0\nf()", "req-error", CancellationToken.None);
        Assert.True(run.Failed);
        Assert.NotNull(run.Error);
        Assert.Contains("ZeroDivisionError", run.Error);
        Assert.Contains("Traceback", run.Error);
        Assert.StartsWith("before\n", run.Logs);
        Assert.Contains("ZeroDivisionError", run.Logs);

        // The interpreter survives its exception: the container serves the next run.
        var next = await Interpreter.RunAsync(Caller.Admin, run.ContainerId, "print('after')", "req-after", CancellationToken.None);
        Assert.Equal("after\n", next.Logs);
        Assert.False(next.Failed);
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{run.ContainerId}");
    }

    [Fact]
    public async Task Another_owners_container_and_a_plain_sandbox_are_refused()
    {
        var alice = await G.NewKeyAsync();
        var bob = await G.NewKeyAsync();
        var run = await Interpreter.RunAsync(await CallerOfAsync(alice), null, "secret = 'alice'", "req-alice", CancellationToken.None);

        var bobs = await CallerOfAsync(bob);
        var refused = await Assert.ThrowsAsync<CodeInterpreterException>(() => Interpreter.RunAsync(bobs, run.ContainerId, "print(secret)", "req-bob", CancellationToken.None));
        Assert.Equal(404, refused.Error.Status);
        Assert.Equal("container_not_found", refused.Error.Code);
        // The admin (another owner again) is refused too, and so is an id that is no container at all.
        await Assert.ThrowsAsync<CodeInterpreterException>(() => Interpreter.RunAsync(Caller.Admin, run.ContainerId, "print(1)", "req-admin", CancellationToken.None));
        var plain = await G.CreateAsync();
        var notContainer = await Assert.ThrowsAsync<CodeInterpreterException>(() => Interpreter.RunAsync(Caller.Admin, "cntr_" + plain["sb-".Length..], "print(1)", "req-plain", CancellationToken.None));
        Assert.Equal(404, notContainer.Error.Status);
        await Assert.ThrowsAsync<CodeInterpreterException>(() => Interpreter.RunAsync(Caller.Admin, "../../sb-x", "print(1)", "req-junk", CancellationToken.None));
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{run.ContainerId}", key: alice);
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{plain}");
    }

    [Fact]
    public async Task Sandbox_seconds_are_priced_logged_and_counted_against_the_key()
    {
        var key = await G.Server.GenerateKeyAsync("""{"max_budget": 100}""", SandboxGateway.Master);
        var caller = await CallerOfAsync(key);
        var run = await Interpreter.RunAsync(caller, null, "import time\ntime.sleep(0.3)\nprint('slept')", "req-priced", CancellationToken.None);
        Assert.True(run.SandboxSeconds >= 0.3, $"{run.SandboxSeconds}");

        await G.Server.FlushSpendAsync();
        var (status, logs) = await G.Server.AdminAsync($"/spend/logs?api_key={key}", null, SandboxGateway.Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var log = Assert.Single(logs.EnumerateArray());
        Assert.Equal("code_interpreter", log.GetProperty("call_type").GetString());
        Assert.Equal("code_interpreter", log.GetProperty("model").GetString());
        Assert.Equal("req-priced", log.GetProperty("request_id").GetString());
        Assert.Equal(run.ContainerId, log.GetProperty("model_id").GetString());
        Assert.Equal("success", log.GetProperty("status").GetString());
        var spend = log.GetProperty("spend").GetDecimal();
        Assert.Equal((double)(ContainersGatewayFixture.CostPerSecond * (decimal)run.SandboxSeconds), (double)spend, 6);
        Assert.Equal(run.SandboxSeconds * 1000, log.GetProperty("latency_ms").GetDouble(), 0);

        var (_, info) = await G.Server.AdminAsync($"/key/info?key={key}", null, SandboxGateway.Master);
        Assert.Equal(spend, info.GetProperty("info").GetProperty("spend").GetDecimal());
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{run.ContainerId}", key: key);
    }

    [Fact]
    public async Task A_key_whose_budget_is_spent_runs_nothing_more()
    {
        // A lone run is admitted while the key has budget left (as a lone LLM request is), and its cost is counted:
        // afterwards the budget is spent and the next run is refused before any sandbox is made.
        var key = await G.Server.GenerateKeyAsync("""{"max_budget": 0.01}""", SandboxGateway.Master);
        var caller = await CallerOfAsync(key);
        var first = await Interpreter.RunAsync(caller, null, "import time\ntime.sleep(0.1)", "req-first", CancellationToken.None);
        Assert.True((decimal)first.SandboxSeconds * ContainersGatewayFixture.CostPerSecond > 0.01m, $"{first.SandboxSeconds}");
        var refused = await Assert.ThrowsAsync<CodeInterpreterException>(() => Interpreter.RunAsync(caller, null, "print(2)", "req-second", CancellationToken.None));
        Assert.Equal("budget_exceeded", refused.Error.Code);
        Assert.Equal(400, refused.Error.Status);
        var (_, list) = await G.SendAsync(HttpMethod.Get, "/v1/containers", key: key);
        Assert.Equal(new[] { first.ContainerId }, list.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToArray());
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{first.ContainerId}", key: key);
    }
}
