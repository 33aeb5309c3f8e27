using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>
/// The sandbox API end to end, whatever the driver: a real gateway, real sandboxes, the real guest agent. Each driver's
/// test class runs every test here against a gateway of its own (bubblewrap: <see cref="SandboxApiTests"/>; QEMU
/// microVMs: Qemu.QemuSandboxApiTests).
/// </summary>
public abstract class SandboxApiSuite
{
    private protected abstract SandboxGateway G { get; }

    [Fact]
    public async Task Create_get_list_by_metadata_and_delete()
    {
        var id = await G.CreateAsync("""{"runtime":"python","timeout":120,"metadata":{"team":"alpha","run":"7"}}""");
        Assert.StartsWith("sb-", id);
        var (status, body) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("python", body.GetProperty("runtime").GetString());
        Assert.Equal("alpha", body.GetProperty("metadata").GetProperty("team").GetString());
        var expires = body.GetProperty("expires_at").GetDateTimeOffset() - body.GetProperty("created_at").GetDateTimeOffset();
        Assert.InRange(expires.TotalSeconds, 119, 121);

        var other = await G.CreateAsync("""{"runtime":"bash","metadata":{"team":"beta"}}""");
        (_, body) = await G.SendAsync(HttpMethod.Get, "/v1/sandboxes?metadata.team=alpha");
        Assert.Equal(new[] { id }, body.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToArray());
        (_, body) = await G.SendAsync(HttpMethod.Get, "/v1/sandboxes?metadata=" + Uri.EscapeDataString("team=beta"));
        Assert.Equal(new[] { other }, body.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToArray());

        (status, _) = await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, body) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("sandbox_not_found", body.GetProperty("error").GetProperty("code").GetString());
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{other}");
    }

    [Fact]
    public async Task Seed_paths_create_execute_and_destroy()
    {
        var (status, body) = await G.PostAsync("/v1/sandbox/create", """{"runtime":"python"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        var id = body.GetProperty("sandbox_id").GetString()!;
        Assert.Equal("ready", body.GetProperty("status").GetString());
        (status, body) = await G.PostAsync($"/v1/sandbox/{id}/execute", """{"code":"print(sum([1,2,3,4]))","timeout":30}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("10\n", body.GetProperty("output").GetString());
        Assert.Equal(0, body.GetProperty("exit_code").GetInt32());
        Assert.True(body.GetProperty("duration_ms").GetDouble() >= 0);
        (status, _) = await G.PostAsync($"/v1/sandbox/{id}/destroy", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Bad_create_requests_get_clear_400s()
    {
        foreach (var (json, param) in new[]
        {
            ("""{"runtime":"cobol"}""", "runtime"),
            ("""{"timeout":-5}""", "timeout"),
            ("""{"memory_mb":99999999}""", "memory_mb"),
            ("""{"network":"everything"}""", "network"),
            ("""{"network":"allowlist"}""", "allow_hosts"),
            ("""{"env":{"1BAD":"x"}}""", "env"),
            ("""{"packages":["numpy; rm -rf /"]}""", "packages"),
            ("""{"isolation":"vmware"}""", "isolation"),
            ("""{"isolation":"firecracker"}""", "isolation"),     // a driver this gateway does not offer
        })
        {
            var (status, body) = await G.PostAsync("/v1/sandboxes", json);
            Assert.True(status == HttpStatusCode.BadRequest, $"{json}: {status} {body}");
            Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        }
        var (s, b) = await G.PostAsync("/v1/sandboxes", "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, s);
        Assert.Equal("invalid_request_error", b.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Allow_hosts_refuses_addresses_and_localhost_in_every_spelling()
    {
        foreach (var entry in new[]
        {
            "127.0.0.1", "localhost", "0.0.0.0", "[::1]", "::1", "127.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1",
            "*.0.0.1", "*.1", "localhost.", "LOCALHOST", "foo.localhost", "*.localhost", "169.254.169.254", "::ffff:127.0.0.1",
            "fe80::1%lo", "10.0.0.1", "1.2.3.4.",
        })
        {
            var json = JsonSerializer.Serialize(new { runtime = "python", network = "allowlist", allow_hosts = new[] { "pypi.org", entry } });
            var (status, body) = await G.PostAsync("/v1/sandboxes", json);
            Assert.True(status == HttpStatusCode.BadRequest, $"{entry}: {status} {body}");
            var error = body.GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("allow_hosts", error.GetProperty("param").GetString());
            Assert.Contains($"'{entry}'", error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Python_context_keeps_variables_imports_and_functions()
    {
        var id = await G.CreateAsync();
        await G.ExecAsync(id, "import math\nx = 21\ndef double(v):\n    return v * 2");
        var result = await G.ExecAsync(id, "double(x) + math.floor(0.5)");
        Assert.Equal("", result.GetProperty("stdout").GetString());
        var main = Assert.Single(result.GetProperty("results").EnumerateArray());
        Assert.Equal("42", main.GetProperty("text").GetString());
        Assert.True(main.GetProperty("is_main_result").GetBoolean());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task Back_to_back_executes_are_never_refused_as_busy()
    {
        var id = await G.CreateAsync();
        for (var i = 0; i < 100; i++)
            Assert.Equal($"{i}\n", (await G.ExecAsync(id, $"print({i})")).GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Python_exception_returns_name_value_traceback_and_the_context_survives()
    {
        var id = await G.CreateAsync();
        await G.ExecAsync(id, "kept = 'still here'");
        var failed = await G.ExecAsync(id, "print('before')\n{}['missing']");
        Assert.Equal("before\n", failed.GetProperty("stdout").GetString());
        Assert.Equal(1, failed.GetProperty("exit_code").GetInt32());
        var error = failed.GetProperty("error");
        Assert.Equal("KeyError", error.GetProperty("name").GetString());
        Assert.Contains("missing", error.GetProperty("value").GetString());
        Assert.Contains("KeyError", error.GetProperty("traceback").GetString());
        var after = await G.ExecAsync(id, "print(kept)");
        Assert.Equal("still here\n", after.GetProperty("stdout").GetString());
        // cwd changes the context's directory (it stays, as a cd would); a missing one is refused.
        Assert.Equal("/tmp\n", (await G.ExecAsync(id, "import os; print(os.getcwd())", "\"cwd\":\"/tmp\"")).GetProperty("stdout").GetString());
        Assert.Equal("/tmp\n", (await G.ExecAsync(id, "print(os.getcwd())")).GetProperty("stdout").GetString());
        var (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/execute", """{"code":"1","cwd":"/home/user/missing"}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Node_and_bash_contexts_persist_state_in_any_sandbox()
    {
        var id = await G.CreateAsync("""{"runtime":"node"}""");
        await G.ExecAsync(id, "let counter = 40; function inc(n) { return n + 1; }");
        var r = await G.ExecAsync(id, "console.log('hi'); inc(counter) + 1");
        Assert.Equal("hi\n", r.GetProperty("stdout").GetString());
        Assert.Equal("42", r.GetProperty("results")[0].GetProperty("text").GetString());
        var failed = await G.ExecAsync(id, "null.x");
        Assert.Equal("TypeError", failed.GetProperty("error").GetProperty("name").GetString());
        Assert.Equal("41\n", (await G.ExecAsync(id, "console.log(inc(counter))")).GetProperty("stdout").GetString());

        // Another language in the same sandbox gets its own context.
        await G.ExecAsync(id, "export GREETING=hello; cd /tmp; f() { echo \"$GREETING from $(pwd)\"; }", "\"language\":\"bash\"");
        var bash = await G.ExecAsync(id, "f; false", "\"language\":\"bash\"");
        Assert.Equal("hello from /tmp\n", bash.GetProperty("stdout").GetString());
        Assert.Equal(1, bash.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Execute_timeout_interrupts_and_the_context_survives()
    {
        var id = await G.CreateAsync();
        await G.ExecAsync(id, "survivor = 7");
        var r = await G.ExecAsync(id, "while True: pass", "\"timeout\":1");
        Assert.True(r.GetProperty("timed_out").GetBoolean(), r.ToString());
        Assert.NotEqual(JsonValueKind.Null, r.GetProperty("error").ValueKind);
        Assert.Equal("7\n", (await G.ExecAsync(id, "print(survivor)")).GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Execute_streams_output_as_server_sent_events_while_it_runs()
    {
        var id = await G.CreateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/execute")
        {
            Content = new StringContent("""{"code":"import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\n'end'"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var started = DateTime.UtcNow;
        using var response = await G.Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string Event, JsonElement Data, TimeSpan At)>();
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ")) name = line[7..];
            else if (line.StartsWith("data: ")) events.Add((name!, JsonDocument.Parse(line[6..]).RootElement.Clone(), DateTime.UtcNow - started));
        }
        var stdout = events.Where(e => e.Event == "stdout").ToList();
        Assert.Equal("0\n1\n2\n", string.Concat(stdout.Select(e => e.Data.GetProperty("data").GetString())));
        // The first line arrived well before the end: streamed, not buffered.
        Assert.True(events[^1].At - stdout[0].At > TimeSpan.FromMilliseconds(400), string.Join(", ", events.Select(e => $"{e.Event}@{e.At.TotalMilliseconds:0}")));
        Assert.Equal("'end'", events.Single(e => e.Event == "result").Data.GetProperty("text").GetString());
        Assert.Equal("done", events[^1].Event);
    }

    [Fact]
    public async Task Named_contexts_are_created_listed_restarted_and_removed()
    {
        var id = await G.CreateAsync();
        var (status, body) = await G.PostAsync($"/v1/sandboxes/{id}/contexts", """{"name":"analysis","language":"python"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        await G.ExecAsync(id, "state = 'in analysis'", "\"context\":\"analysis\"");
        var own = await G.ExecAsync(id, "print(globals().get('state'))");
        Assert.Equal("None\n", own.GetProperty("stdout").GetString());
        (_, body) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/contexts");
        Assert.Contains("analysis", body.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("context").GetString()));
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/contexts/analysis/restart", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        var restarted = await G.ExecAsync(id, "print(globals().get('state'))", "\"context\":\"analysis\"");
        Assert.Equal("None\n", restarted.GetProperty("stdout").GetString());
        (status, _) = await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}/contexts/analysis");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, body) = await G.PostAsync($"/v1/sandboxes/{id}/execute", """{"code":"1","context":"analysis"}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Commands_run_in_foreground_and_background_with_stdin_and_signals()
    {
        var id = await G.CreateAsync("""{"runtime":"bash","env":{"WHO":"sandbox"}}""");
        var fg = await G.RunAsync(id, "echo out; echo err >&2; echo $WHO; exit 3");
        Assert.Equal("out\nsandbox\n", fg.GetProperty("stdout").GetString());
        Assert.Equal("err\n", fg.GetProperty("stderr").GetString());
        Assert.Equal(3, fg.GetProperty("exit_code").GetInt32());

        var piped = await G.RunAsync(id, "tr a-z A-Z", "\"stdin\":\"shout\"");
        Assert.Equal("SHOUT", piped.GetProperty("stdout").GetString());

        var bg = await G.RunAsync(id, "read line; echo got:$line; sleep 300", "\"background\":true");
        var pid = bg.GetProperty("pid").GetInt64();
        var (status, list) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/processes");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(pid, list.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("pid").GetInt64()));
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/processes/{pid}/stdin", """{"data":"hello\n"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        JsonElement state = default;
        for (var i = 0; i < 50; i++)
        {
            (_, state) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/processes/{pid}");
            if (state.GetProperty("stdout").GetString()!.Contains("got:hello")) break;
            await Task.Delay(100);
        }
        Assert.Equal("got:hello\n", state.GetProperty("stdout").GetString());
        Assert.True(state.GetProperty("running").GetBoolean());
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/processes/{pid}/signal", """{"signal":"SIGTERM"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        for (var i = 0; i < 50 && state.GetProperty("running").GetBoolean(); i++)
        {
            await Task.Delay(100);
            (_, state) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/processes/{pid}");
        }
        Assert.False(state.GetProperty("running").GetBoolean());
        Assert.Equal("SIGTERM", state.GetProperty("signal").GetString());
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/processes/{pid}/signal", """{"signal":"SIGNOPE"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Files_are_written_read_listed_moved_and_removed()
    {
        var id = await G.CreateAsync();
        var bytes = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(bytes);
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/files?path=data/blob.bin") { Content = new ByteArrayContent(bytes) })
        {
            put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await G.Server.Client.SendAsync(put);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var seen = await G.ExecAsync(id, "import hashlib\nhashlib.sha256(open('/home/user/data/blob.bin','rb').read()).hexdigest()");
        Assert.Equal($"'{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))}'", seen.GetProperty("results")[0].GetProperty("text").GetString());

        using (var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/sandboxes/{id}/files?path=/home/user/data/blob.bin"))
        {
            get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await G.Server.Client.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        }

        var (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/files/mkdir", """{"path":"out/deep/er"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/files/move", """{"from":"data/blob.bin","to":"out/deep/blob.bin"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, list) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/files/list?path=out/deep");
        var entries = list.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e);
        Assert.Equal("file", entries["blob.bin"].GetProperty("type").GetString());
        Assert.Equal(bytes.Length, entries["blob.bin"].GetProperty("size").GetInt64());
        Assert.Equal("dir", entries["er"].GetProperty("type").GetString());
        (status, var stat) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/files/stat?path=out/deep/blob.bin");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("file", stat.GetProperty("type").GetString());
        Assert.Equal(bytes.Length, stat.GetProperty("size").GetInt64());
        Assert.Equal("/home/user/out/deep/blob.bin", stat.GetProperty("path").GetString());
        (status, _) = await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}/files?path=out");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, var missing) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/files/stat?path=out/deep/blob.bin");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", missing.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Multipart_upload_writes_every_file()
    {
        var id = await G.CreateAsync();
        using var form = new MultipartFormDataContent
        {
            { new StringContent("alpha"), "file", "a.txt" },
            { new ByteArrayContent([1, 2, 3]), "file", "b.bin" },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sandboxes/{id}/files?path=/home/user/up") { Content = form };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var response = await G.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var r = await G.ExecAsync(id, "print(open('/home/user/up/a.txt').read(), list(open('/home/user/up/b.bin','rb').read()))");
        Assert.Equal("alpha [1, 2, 3]\n", r.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Sandboxes_are_visible_only_to_the_key_that_created_them()
    {
        var alice = await G.NewKeyAsync();
        var bob = await G.NewKeyAsync();
        var id = await G.CreateAsync(key: alice);
        await G.ExecAsync(id, "secret = 1", key: alice);
        foreach (var (method, path, json) in new (HttpMethod, string, string?)[]
        {
            (HttpMethod.Get, $"/v1/sandboxes/{id}", null),
            (HttpMethod.Post, $"/v1/sandboxes/{id}/execute", """{"code":"print(secret)"}"""),
            (HttpMethod.Get, $"/v1/sandboxes/{id}/files?path=/etc/hostname", null),
            (HttpMethod.Delete, $"/v1/sandboxes/{id}", null),
        })
        {
            var (status, _) = await G.SendAsync(method, path, json, bob);
            Assert.Equal(HttpStatusCode.NotFound, status);
        }
        var (_, bobs) = await G.SendAsync(HttpMethod.Get, "/v1/sandboxes", key: bob);
        Assert.Empty(bobs.GetProperty("data").EnumerateArray());
        var (st, _) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}", key: alice);
        Assert.Equal(HttpStatusCode.OK, st);
        var (unauth, _) = await G.SendAsync(HttpMethod.Get, "/v1/sandboxes", key: "sk-not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, unauth);
    }

    [Fact]
    public async Task Timeout_can_be_extended_and_an_expired_sandbox_is_gone()
    {
        var id = await G.CreateAsync("""{"runtime":"bash","timeout":2}""");
        var (status, body) = await G.PostAsync($"/v1/sandboxes/{id}/timeout", """{"timeout":600}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("expires_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddSeconds(590));
        (status, _) = await G.PostAsync($"/v1/sandboxes/{id}/timeout", """{"timeout":1}""");
        Assert.Equal(HttpStatusCode.OK, status);
        for (var i = 0; i < 40 && status != HttpStatusCode.NotFound; i++)
        {
            await Task.Delay(100);
            (status, _) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        }
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Commands_run_as_the_user_and_as_root_only_where_root_is_the_vms()
    {
        var id = await G.CreateAsync("""{"runtime":"bash"}""");
        var (_, info) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        var microVm = info.GetProperty("isolation").GetString() is "qemu" or "firecracker";
        Assert.Equal("1000 1000 user /home/user\n", (await G.RunAsync(id, "echo $(id -u) $(id -G) $(whoami) $HOME")).GetProperty("stdout").GetString());
        // Root inside a VM is the VM's; a bubblewrap sandbox is never root on the host, so root there is the same user.
        Assert.Equal(microVm ? "0\n" : "1000\n", (await G.RunAsync(id, "id -u", "\"user\":\"root\"")).GetProperty("stdout").GetString());
        var (status, body) = await G.PostAsync($"/v1/sandboxes/{id}/commands", """{"cmd":"id -u","user":"nobody"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("user", body.GetProperty("error").GetProperty("param").GetString());
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
    }
}

/// <summary>The sandbox API suite on bubblewrap, plus what only a bubblewrap sandbox has (the host's Python packages, the native agent as bwrap's child).</summary>
[Trait("Category", "sandbox")]
public class SandboxApiTests(SandboxGatewayFixture fixture) : SandboxApiSuite, IClassFixture<SandboxGatewayFixture>
{
    private protected override SandboxGateway G => fixture.Gateway;

    [Fact]
    public async Task An_offered_driver_that_cannot_run_here_gets_503s_and_its_pool_stays_empty()
    {
        await using var gateway = await SandboxGateway.StartAsync(
            "drivers: [bubblewrap, firecracker], firecracker: {binary: /nonexistent/firecracker, use_jailer: false}, pools: {python: {min_ready: 1}, node: {min_ready: 1, driver: firecracker}}");
        var (status, body) = await gateway.PostAsync("/v1/sandboxes", """{"runtime":"node"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("sandbox_isolation_unavailable", body.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("Isolation \"firecracker\" is not available on this host: ", body.GetProperty("error").GetProperty("message").GetString());
        (status, _) = await gateway.PostAsync("/v1/sandboxes", """{"runtime":"python","isolation":"firecracker"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var id = await gateway.CreateAsync();                 // the default driver is fine
        await gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        // The python pool fills; the node pool (on firecracker) is never tried.
        var manager = gateway.Server.Services.GetRequiredService<AgenticGateway.Sandboxes.SandboxManager>();
        for (var i = 0; i < 100 && manager.PoolReady("python") == 0; i++) await Task.Delay(100);
        Assert.Equal((1, 0), (manager.PoolReady("python"), manager.PoolReady("node")));
    }

    [Fact]
    public async Task Packages_without_network_or_cache_are_refused_clearly()
    {
        var (status, body) = await G.PostAsync("/v1/sandboxes", """{"runtime":"python","packages":["numpy","pandas"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("packages_unavailable", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("network", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task The_sandbox_runs_the_native_agent_as_a_child_of_bwrap()
    {
        var id = await G.CreateAsync();
        var r = await G.ExecAsync(id, """
            import os
            agent = os.getppid()
            print(agent != 1, os.readlink('/proc/%d/exe' % agent), open('/proc/1/comm').read().strip())
            """);
        // Not pid 1: .NET as pid 1 reaps every child process, which would take the exit statuses the agent waits for.
        Assert.Equal("True /opt/agw/agw-agent bwrap\n", r.GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Rich_results_carry_html_and_matplotlib_figures_as_png()
    {
        var id = await G.CreateAsync();
        var r = await G.ExecAsync(id, """
            class Table:
                def _repr_html_(self): return '<table><tr><td>1</td></tr></table>'
                def __repr__(self): return 'Table()'
            import matplotlib.pyplot as plt
            plt.plot([1, 2, 3], [1, 4, 9])
            Table()
            """);
        var results = r.GetProperty("results").EnumerateArray().ToList();
        var main = results.Single(x => x.GetProperty("is_main_result").GetBoolean());
        Assert.Equal("Table()", main.GetProperty("text").GetString());
        Assert.Equal("<table><tr><td>1</td></tr></table>", main.GetProperty("html").GetString());
        var figure = results.Single(x => x.TryGetProperty("png", out _));
        var png = Convert.FromBase64String(figure.GetProperty("png").GetString()!);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 1000);
    }
}
