using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Files inside a sandbox. Every operation is carried out by the sandbox's own agent, as the sandbox user and inside
/// its mount namespace, which confines paths to /home/user and /tmp (symlinks and '..' cannot lead out). Bodies
/// stream through in 1 MiB chunks: nothing holds a whole file in memory.
/// </summary>
internal static class FileEndpoints
{
    /// <summary>
    /// One chunk of a file written through the agent (fs.write): base64 data at an offset of the upload named
    /// <paramref name="upload"/>, which the agent renames into place on the final chunk. Used by the MCP sandbox server too.
    /// </summary>
    internal static Task WriteChunkAsync(Sandbox sandbox, string path, string data, long offset, bool final, string upload, CancellationToken ct, string? user = null) =>
        sandbox.Agent.CallAsync(AgentOps.FsWrite, w =>
        {
            w.WriteString("path", path);
            if (user is not null) w.WriteString("user", user);     // the agent's default is the sandbox's user
            w.WriteString("data_b64", data);
            w.WriteNumber("offset", offset);
            w.WriteBoolean("final", final);
            w.WriteString("upload", upload);
        }, ct);

    private const int Chunk = 1 << 20;

    public static void Map(IEndpointRouteBuilder app, SandboxHttp http)
    {
        foreach (var sb in new[] { "/v1/sandboxes/{id}", "/v1/sandbox/{id}" })
        {
            app.MapPut(sb + "/files", (HttpContext c, string id) => UploadAsync(c, http, id)).WithSummary("Write a file (raw body)");
            app.MapPost(sb + "/files", (HttpContext c, string id) => MultipartAsync(c, http, id)).WithSummary("Upload files (multipart/form-data) into a directory");
            app.MapGet(sb + "/files", (HttpContext c, string id) => DownloadAsync(c, http, id)).WithSummary("Read a file");
            app.MapDelete(sb + "/files", (HttpContext c, string id) => PathOpAsync(c, http, id, AgentOps.FsRemove, Done)).WithSummary("Remove a file or directory");
        }
        const string s = "/v1/sandboxes/{id}";
        app.MapGet(s + "/files/list", (HttpContext c, string id) => ListAsync(c, http, id)).WithSummary("List a directory");
        app.MapGet(s + "/files/stat", (HttpContext c, string id) => PathOpAsync(c, http, id, AgentOps.FsStat, _ => Entry)).WithSummary("Describe a file");
        app.MapPost(s + "/files/mkdir", (HttpContext c, string id) => MkdirAsync(c, http, id)).WithSummary("Create a directory (with parents)");
        app.MapPost(s + "/files/move", (HttpContext c, string id) => MoveAsync(c, http, id)).WithSummary("Move or rename");
    }

    private static async Task<string?> RequirePathAsync(HttpContext context)
    {
        var path = SandboxHttp.Query(context, "path");
        if (path is null || path.Length > 4096 || path.Contains('\0'))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("path (query parameter) is required.", "path"));
            return null;
        }
        return path;
    }

    private static async Task UploadAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null || await RequirePathAsync(context) is not { } path) return;
        var max = http.Manager.Options.MaxFileBytes;
        if (context.Request.ContentLength > max) { await TooLargeAsync(context, max); return; }
        AllowBody(context, max);
        try
        {
            var size = await WriteStreamAsync(sandbox, path, context.Request.Body, max, context.RequestAborted);
            if (size < 0) { await TooLargeAsync(context, max); return; }
            await SandboxHttp.JsonAsync(context.Response, 200, w => { w.WriteStartObject(); w.WriteString("path", path); w.WriteNumber("size", size); w.WriteEndObject(); });
        }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge) { await TooLargeAsync(context, max); }
        catch (BadHttpRequestException ex) { await PipelineErrors.WriteAsync(context, Pipeline.RequestBody.FromKestrel(ex, max)); }
        // The upload's own framing (a chunk size Kestrel cannot read); agent failures are AgentExceptions.
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Malformed request body: {ex.Message}", code: "malformed_body"));
        }
    }

    /// <summary>Sends the stream to the agent in chunks of one upload; -1 when it is larger than <paramref name="max"/>. Used by the containers API too.</summary>
    internal static async Task<long> WriteStreamAsync(Sandbox sandbox, string path, Stream body, long max, CancellationToken cancellationToken, string? user = null)
    {
        var upload = Guid.NewGuid().ToString("N");
        var buffer = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            long offset = 0;
            while (true)
            {
                var filled = 0;
                int n;
                while (filled < Chunk && (n = await body.ReadAsync(buffer.AsMemory(filled, Chunk - filled), cancellationToken)) > 0) filled += n;
                var final = filled < Chunk;
                if (offset + filled > max) return -1;
                var chunkOffset = offset;
                var data = Convert.ToBase64String(buffer, 0, filled);
                await WriteChunkAsync(sandbox, path, data, chunkOffset, final, upload, cancellationToken, user);
                offset += filled;
                if (final) return offset;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    private static async Task MultipartAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        var directory = SandboxHttp.Query(context, "path") ?? "/home/user";
        var boundary = MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type) ? HeaderUtilities.RemoveQuotes(type.Boundary).Value : null;
        if (type?.MediaType.Value != "multipart/form-data" || string.IsNullOrEmpty(boundary))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Send multipart/form-data with one part per file, or PUT a raw body with ?path=."));
            return;
        }
        var max = http.Manager.Options.MaxFileBytes;
        AllowBody(context, max * 16);
        var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = max };
        var written = new List<(string Path, long Size)>();
        try
        {
            while (await reader.ReadNextSectionAsync(context.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                var name = HeaderUtilities.RemoveQuotes(disposition.FileName.HasValue ? disposition.FileName : disposition.Name).Value;
                if (string.IsNullOrEmpty(name)) continue;
                var target = name.StartsWith('/') ? name : directory.TrimEnd('/') + "/" + name;
                var size = await WriteStreamAsync(sandbox, target, section.Body, max, context.RequestAborted);
                if (size < 0) { await TooLargeAsync(context, max); return; }
                written.Add((target, size));
            }
        }
        catch (InvalidDataException ex) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Malformed multipart body: {ex.Message}")); return; }
        // The body ended before the closing boundary (agent failures are AgentExceptions, so this is the upload's fault).
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Malformed multipart body: {ex.Message.Trim()}"));
            return;
        }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("files");
            foreach (var (p, size) in written) { w.WriteStartObject(); w.WriteString("path", p); w.WriteNumber("size", size); w.WriteEndObject(); }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task DownloadAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null || await RequirePathAsync(context) is not { } path) return;
        await StreamAsync(context, sandbox, path, "application/octet-stream");
    }

    /// <summary>A sandbox's file as the response body, read in chunks (used by the containers API too).</summary>
    internal static async Task StreamAsync(HttpContext context, Sandbox sandbox, string path, string contentType)
    {
        long offset = 0;
        try
        {
            while (true)
            {
                var chunkOffset = offset;
                var done = await sandbox.Agent.CallAsync(AgentOps.FsRead, w => { w.WriteString("path", path); w.WriteNumber("offset", chunkOffset); w.WriteNumber("length", Chunk); }, context.RequestAborted);
                var data = done.GetProperty("data_b64").GetBytesFromBase64();
                if (offset == 0)
                {
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = contentType;
                    if (done.TryGetProperty("size", out var size)) context.Response.Headers["X-File-Size"] = size.GetRawText();
                }
                await context.Response.Body.WriteAsync(data, context.RequestAborted);
                offset += data.Length;
                if (done.TryGetProperty("eof", out var eof) && eof.ValueKind == JsonValueKind.True || data.Length == 0) return;
            }
        }
        catch (AgentException ex)
        {
            // Before the first byte this is a clean error; after it, the truncated body is all that can be said.
            if (offset == 0) await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex));
            else context.Abort();
        }
        catch (OperationCanceledException) { }
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        var path = SandboxHttp.Query(context, "path") ?? "/home/user";
        var depth = int.TryParse(SandboxHttp.Query(context, "depth"), out var d) ? Math.Clamp(d, 1, 10) : 1;
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.FsList, w => { w.WriteString("path", path); w.WriteNumber("depth", depth); }, SandboxHttp.List("entries"));
    }

    private static async Task PathOpAsync(HttpContext context, SandboxHttp http, string id, string op, Func<string, Action<Utf8JsonWriter, JsonElement>> answer)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null || await RequirePathAsync(context) is not { } path) return;
        await SandboxHttp.AgentAsync(context, sandbox, op, w => w.WriteString("path", path), answer(path));
    }

    private static async Task MkdirAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var path = SandboxHttp.String(body, "path") ?? SandboxHttp.Query(context, "path");
        if (path is null) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("path is required.", "path")); return; }
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.FsMkdir, w => w.WriteString("path", path), Done(path));
    }

    private static async Task MoveAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var from = SandboxHttp.String(body, "from", "source", "path");
        var to = SandboxHttp.String(body, "to", "destination", "new_path");
        if (from is null || to is null) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("from and to are required.", from is null ? "from" : "to")); return; }
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.FsMove, w => { w.WriteString("from", from); w.WriteString("to", to); }, Done(to));
    }

    /// <summary>fs.stat's entry (nested in the agent's answer, whose own "type" is "done"), as a listing shows it.</summary>
    private static void Entry(Utf8JsonWriter w, JsonElement done)
    {
        if (done.TryGetProperty("entry", out var entry)) entry.WriteTo(w);
        else { w.WriteStartObject(); w.WriteEndObject(); }
    }

    /// <summary>The answer of an operation on a path that reports nothing but success.</summary>
    private static Action<Utf8JsonWriter, JsonElement> Done(string path) => (w, _) =>
    {
        w.WriteStartObject();
        w.WriteString("path", path);
        w.WriteBoolean("ok", true);
        w.WriteEndObject();
    };

    /// <summary>Uploads may exceed the server-wide body limit up to the configured file size.</summary>
    private static void AllowBody(HttpContext context, long max)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = max + Chunk;
    }

    private static Task TooLargeAsync(HttpContext context, long max) =>
        PipelineErrors.WriteAsync(context, new ApiError(413, $"The file is larger than the limit of {max} bytes (sandboxes.max_file_bytes).", "invalid_request_error", "file_too_large"));
}
