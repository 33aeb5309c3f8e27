using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Sandboxes;

namespace AgenticGateway.Tests.E2b.Envd;

/// <summary>
/// envd's Connect RPC as the wire sees it (connectrpc.com/docs/protocol): unary JSON with the code's HTTP status on
/// errors, server and client streams in envelopes ending with a flag-0x02 message, limits and refusals; and the
/// HTTP routes /files, /health and /envs. Raw HTTP, so every byte the SDK would parse is checked.
/// </summary>
[Trait("Category", "sandbox")]
public sealed class EnvdProtocolTests(SandboxGatewayFixture fixture) : IClassFixture<SandboxGatewayFixture>
{
    private Task<EnvdClient> NewAsync() => EnvdClient.CreateAsync(fixture.Gateway);

    [Fact]
    public async Task A_unary_call_answers_protobuf_json_with_int64_as_strings_and_enums_as_names()
    {
        var envd = await NewAsync();
        var (status, type, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path":"/home/user"}""");
        Assert.Equal((HttpStatusCode.OK, "application/json"), (status, type));
        var entry = body.GetProperty("entry");
        Assert.Equal(("user", "FILE_TYPE_DIRECTORY", "/home/user"), (entry.GetProperty("name").GetString(), entry.GetProperty("type").GetString(), entry.GetProperty("path").GetString()));
        Assert.Equal(JsonValueKind.String, entry.GetProperty("size").ValueKind);
        Assert.StartsWith("d", entry.GetProperty("permissions").GetString());
        Assert.Equal("user", entry.GetProperty("owner").GetString());
        Assert.EndsWith("Z", entry.GetProperty("modifiedTime").GetString());
        // The proto names are accepted as well as the camelCase ones (protobuf's JSON mapping).
        var (moved, _, _) = await envd.UnaryAsync("filesystem.Filesystem/MakeDir", """{"path":"a"}""");
        Assert.Equal(HttpStatusCode.OK, moved);
        var (snake, _, _) = await envd.UnaryAsync("filesystem.Filesystem/GetWatcherEvents", """{"watcher_id":"nope"}""");
        Assert.Equal(HttpStatusCode.NotFound, snake);
    }

    [Fact]
    public async Task Errors_carry_connect_codes_with_their_http_status()
    {
        var envd = await NewAsync();
        var (status, type, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path":"/home/user/missing"}""");
        Assert.Equal((HttpStatusCode.NotFound, "application/json", "not_found"), (status, type, body.GetProperty("code").GetString()));
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path": 42""");
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_argument"), (status, body.GetProperty("code").GetString()));
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path": 42}""");
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_argument"), (status, body.GetProperty("code").GetString()));
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/Nope", "{}");
        Assert.Equal((HttpStatusCode.NotImplemented, "unimplemented"), (status, body.GetProperty("code").GetString()));
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path":"/"}""", token: "wrong");
        Assert.Equal((HttpStatusCode.Unauthorized, "unauthenticated"), (status, body.GetProperty("code").GetString()));
        (status, _, _) = await envd.UnaryAsync("filesystem.Filesystem/Stat", """{"path":"/"}""", contentType: "application/proto");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/MakeDir", """{"path":"a"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/MakeDir", """{"path":"a"}""");
        Assert.Equal((HttpStatusCode.Conflict, "already_exists"), (status, body.GetProperty("code").GetString()));
        // An unknown method called as a stream is answered as a stream: 200 and the error at its end.
        var unknown = await envd.StreamAsync("process.Process/Nope", "{}");
        Assert.Equal((HttpStatusCode.OK, "application/connect+json", "unimplemented"), (unknown.Status, unknown.ContentType, unknown.ErrorCode));
    }

    [Fact]
    public async Task Oversized_messages_are_refused_without_being_read()
    {
        var envd = await NewAsync();
        var big = """{"path":"/home/user","pad":" """ + new string('x', 5 << 20) + "\"}";
        var (status, _, body) = await envd.UnaryAsync("filesystem.Filesystem/Stat", big);
        Assert.Equal((HttpStatusCode.TooManyRequests, "resource_exhausted"), (status, body.GetProperty("code").GetString()));
        // An envelope that announces 1 GiB: refused from its header, before any payload.
        var header = EnvdClient.Frame(0, []);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), 1u << 30);
        var stream = await envd.StreamRawAsync("process.Process/Start", header);
        Assert.Equal((HttpStatusCode.OK, "resource_exhausted"), (stream.Status, stream.ErrorCode));
        // A compressed envelope without Connect-Content-Encoding, and a stream cut inside a message.
        stream = await envd.StreamRawAsync("process.Process/Start", EnvdClient.Frame(1, "{}"u8.ToArray()));
        Assert.Equal("unimplemented", stream.ErrorCode);
        stream = await envd.StreamRawAsync("process.Process/Start", EnvdClient.Frame(0, "{\"process\":{}}"u8.ToArray())[..8]);
        Assert.Equal("invalid_argument", stream.ErrorCode);
    }

    [Fact]
    public async Task Start_streams_start_data_and_end_events_then_the_end_of_stream()
    {
        var envd = await NewAsync();
        var run = await envd.StreamAsync("process.Process/Start",
            """{"process":{"cmd":"/bin/bash","args":["-l","-c","echo out-$FOO; pwd; echo err >&2; exit 3"],"envs":{"FOO":"bar"},"cwd":"/tmp"},"stdin":false}""");
        Assert.Equal((HttpStatusCode.OK, "application/connect+json"), (run.Status, run.ContentType));
        Assert.True(run.Messages[0].GetProperty("event").GetProperty("start").GetProperty("pid").GetInt64() > 0, run.Messages[0].ToString());
        Assert.Equal("out-bar\n/tmp\n", run.Output("stdout"));
        Assert.Equal("err\n", run.Output("stderr"));
        var end = run.Messages[^1].GetProperty("event").GetProperty("end");
        Assert.Equal((3, true, "exit status 3"), (end.GetProperty("exitCode").GetInt32(), end.GetProperty("exited").GetBoolean(), end.GetProperty("status").GetString()));
        Assert.Null(run.ErrorCode);
        Assert.NotNull(run.End);
        // Without stdin a command that reads it sees end-of-file at once instead of waiting.
        var cat = await envd.StreamAsync("process.Process/Start", """{"process":{"cmd":"cat"},"stdin":false}""");
        Assert.Equal(0, cat.Messages[^1].GetProperty("event").GetProperty("end").GetProperty("exitCode").GetInt32());
        // A command that does not exist is the end of a started process (bash's 127), a program not in PATH not_found.
        var missing = await envd.StreamAsync("process.Process/Start", """{"process":{"cmd":"no-such-program-here"}}""");
        Assert.Equal("not_found", missing.ErrorCode);
    }

    [Fact]
    public async Task A_client_stream_feeds_stdin_and_signals_reach_the_process()
    {
        var envd = await NewAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var started = new TaskCompletionSource<long>();
        var content = new ByteArrayContent(EnvdClient.Frame(0, """{"process":{"cmd":"/bin/bash","args":["-c","read line; echo got-$line; sleep 600"]},"tag":"reader"}"""u8.ToArray()));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/connect+json");
        using var response = await envd.SendAsync(envd.Request("/process.Process/Start", content));
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        var start = JsonDocument.Parse((await EnvdClient.ReadFrameAsync(stream, cts.Token))!.Value.Payload).RootElement;
        var pid = start.GetProperty("event").GetProperty("start").GetProperty("pid").GetInt64();

        var input = new MemoryStream();
        input.Write(EnvdClient.Frame(0, """{"start":{"process":{"tag":"reader"}}}"""u8.ToArray()));
        input.Write(EnvdClient.Frame(0, Encoding.UTF8.GetBytes("{\"data\":{\"input\":{\"stdin\":\"" + Convert.ToBase64String("hello\n"u8) + "\"}}}")));
        var streamed = await envd.StreamRawAsync("process.Process/StreamInput", input.ToArray());
        Assert.Null(streamed.ErrorCode);
        Assert.Single(streamed.Messages);

        var output = "";
        while (!output.Contains("got-hello") && await EnvdClient.ReadFrameAsync(stream, cts.Token) is { } frame)
        {
            var e = JsonDocument.Parse(frame.Payload).RootElement.GetProperty("event");
            if (e.TryGetProperty("data", out var data)) output += Encoding.UTF8.GetString(data.GetProperty("stdout").GetBytesFromBase64());
        }
        Assert.Contains("got-hello", output);
        var (listed, _, list) = await envd.UnaryAsync("process.Process/List", "{}");
        var info = list.GetProperty("processes").EnumerateArray().Single(p => p.GetProperty("pid").GetInt64() == pid);
        Assert.Equal(("reader", "/bin/bash"), (info.GetProperty("tag").GetString(), info.GetProperty("config").GetProperty("cmd").GetString()));
        var (killed, _, _) = await envd.UnaryAsync("process.Process/SendSignal", $$"""{"process":{"pid":{{pid}}},"signal":"SIGNAL_SIGKILL"}""");
        Assert.Equal(HttpStatusCode.OK, killed);
        JsonElement end = default;
        while (await EnvdClient.ReadFrameAsync(stream, cts.Token) is { } frame && (frame.Flags & 2) == 0)
            if (JsonDocument.Parse(frame.Payload).RootElement.GetProperty("event").TryGetProperty("end", out var e)) end = e.Clone();
        Assert.Equal((-1, false, "signal: killed"), (end.GetProperty("exitCode").GetInt32(), end.GetProperty("exited").GetBoolean(), end.GetProperty("status").GetString()));
        var (gone, _, body) = await envd.UnaryAsync("process.Process/SendSignal", $$"""{"process":{"pid":{{pid}}},"signal":"SIGNAL_SIGKILL"}""");
        Assert.Equal((HttpStatusCode.NotFound, "not_found"), (gone, body.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Root_is_listable_but_writes_outside_the_roots_are_permission_denied()
    {
        var envd = await NewAsync();
        var (status, _, list) = await envd.UnaryAsync("filesystem.Filesystem/ListDir", """{"path":"/"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var names = list.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains("usr", names);
        Assert.Contains("home", names);
        foreach (var (method, json) in new[]
        {
            ("filesystem.Filesystem/MakeDir", """{"path":"/usr/evil"}"""),
            ("filesystem.Filesystem/Remove", """{"path":"/usr/bin"}"""),
            ("filesystem.Filesystem/Move", """{"source":"/home/user","destination":"/usr/x"}"""),
        })
        {
            var (denied, _, body) = await envd.UnaryAsync(method, json);
            Assert.True((denied, body.GetProperty("code").GetString()) == (HttpStatusCode.Forbidden, "permission_denied"), $"{method}: {denied} {body}");
        }
        // ListDir with depth: nested entries, and the upload's own temporary files never show.
        await envd.UnaryAsync("filesystem.Filesystem/MakeDir", """{"path":"/home/user/d1/d2/d3"}""");
        var (_, _, deep) = await envd.UnaryAsync("filesystem.Filesystem/ListDir", """{"path":"/home/user/d1","depth":2}""");
        Assert.Equal(["/home/user/d1/d2", "/home/user/d1/d2/d3"], deep.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("path").GetString()!).ToArray());
    }

    [Fact]
    public async Task WatchDir_streams_filesystem_events_and_watchers_buffer_them()
    {
        var envd = await NewAsync();
        await envd.UnaryAsync("filesystem.Filesystem/MakeDir", """{"path":"/home/user/w"}""");
        var (created, _, watcher) = await envd.UnaryAsync("filesystem.Filesystem/CreateWatcher", """{"path":"/home/user/w","recursive":true}""");
        Assert.Equal(HttpStatusCode.OK, created);
        var watcherId = watcher.GetProperty("watcherId").GetString();

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var content = new ByteArrayContent(EnvdClient.Frame(0, """{"path":"/home/user/w"}"""u8.ToArray()));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/connect+json");
        using var response = await envd.SendAsync(envd.Request("/filesystem.Filesystem/WatchDir", content));
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        var first = JsonDocument.Parse((await EnvdClient.ReadFrameAsync(stream, cts.Token))!.Value.Payload).RootElement;
        Assert.True(first.TryGetProperty("start", out _), first.ToString());

        var run = await envd.StreamAsync("process.Process/Start", """{"process":{"cmd":"/bin/bash","args":["-c","echo hi > /home/user/w/new.txt; mkdir /home/user/w/sub; sleep 0.2; echo x > /home/user/w/sub/inner.txt"]}}""");
        Assert.Null(run.ErrorCode);
        var seen = new List<(string, string)>();
        while (!seen.Contains(("new.txt", "EVENT_TYPE_WRITE")) && await EnvdClient.ReadFrameAsync(stream, cts.Token) is { } frame)
        {
            var e = JsonDocument.Parse(frame.Payload).RootElement;
            if (e.TryGetProperty("filesystem", out var fs)) seen.Add((fs.GetProperty("name").GetString()!, fs.GetProperty("type").GetString()!));
        }
        Assert.Contains(("new.txt", "EVENT_TYPE_CREATE"), seen);

        // The non-recursive stream does not see inside sub; the recursive watcher does, with names relative to the root.
        var events = new List<(string, string)>();
        for (var i = 0; i < 50 && !events.Contains(("sub/inner.txt", "EVENT_TYPE_CREATE")); i++)
        {
            var (_, _, batch) = await envd.UnaryAsync("filesystem.Filesystem/GetWatcherEvents", $$"""{"watcherId":"{{watcherId}}"}""");
            events.AddRange(batch.GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("name").GetString()!, e.GetProperty("type").GetString()!)));
            await Task.Delay(100);
        }
        Assert.Contains(("new.txt", "EVENT_TYPE_CREATE"), events);
        Assert.Contains(("sub", "EVENT_TYPE_CREATE"), events);
        Assert.Contains(("sub/inner.txt", "EVENT_TYPE_CREATE"), events);
        var (removed, _, _) = await envd.UnaryAsync("filesystem.Filesystem/RemoveWatcher", $$"""{"watcherId":"{{watcherId}}"}""");
        Assert.Equal(HttpStatusCode.OK, removed);
        var (again, _, _) = await envd.UnaryAsync("filesystem.Filesystem/GetWatcherEvents", $$"""{"watcherId":"{{watcherId}}"}""");
        Assert.Equal(HttpStatusCode.NotFound, again);
    }

    [Fact]
    public async Task Files_upload_and_download_health_and_envs_answer_in_envds_shape()
    {
        var envd = await NewAsync();
        var form = new MultipartFormDataContent
        {
            { new ByteArrayContent("first"u8.ToArray()), "file", "/home/user/up/a.txt" },
            { new ByteArrayContent("second"u8.ToArray()), "file", "up/b.txt" },
        };
        using var uploaded = await envd.SendAsync(envd.Request("/files?username=user", form));
        var entries = JsonDocument.Parse(await uploaded.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);
        Assert.Equal(["/home/user/up/a.txt", "/home/user/up/b.txt"], entries.EnumerateArray().Select(e => e.GetProperty("path").GetString()!).ToArray());
        Assert.Equal("file", entries[0].GetProperty("type").GetString());

        using var raw = await envd.SendAsync(envd.Request("/files?path=raw.bin", new ByteArrayContent([1, 2, 3])));
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        using var download = await envd.SendAsync(envd.Request("/files?path=up%2Fb.txt", null, method: HttpMethod.Get));
        Assert.Equal("second", await download.Content.ReadAsStringAsync());
        using var missing = await envd.SendAsync(envd.Request("/files?path=nope.txt", null, method: HttpMethod.Get));
        var error = JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal((HttpStatusCode.NotFound, 404), (missing.StatusCode, error.GetProperty("code").GetInt32()));
        using var outside = await envd.SendAsync(envd.Request("/files?path=%2Fusr%2Fevil", new ByteArrayContent([1])));
        Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
        using var stranger = await envd.SendAsync(envd.Request("/files?path=x&username=mallory", new ByteArrayContent([1])));
        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);

        using var health = await envd.SendAsync(envd.Request("/health", null, method: HttpMethod.Get));
        Assert.Equal(HttpStatusCode.NoContent, health.StatusCode);
        using var envs = await envd.SendAsync(envd.Request("/envs", null, method: HttpMethod.Get));
        Assert.Equal("1", JsonDocument.Parse(await envs.Content.ReadAsStringAsync()).RootElement.GetProperty("PIP_BREAK_SYSTEM_PACKAGES").GetString());
        await fixture.Gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{envd.Id}");
        using var gone = await envd.SendAsync(envd.Request("/health", null, method: HttpMethod.Get));
        Assert.Equal(HttpStatusCode.BadGateway, gone.StatusCode);
    }
}
