using System.Buffers;
using System.IO.Compression;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;
using AgenticGateway.Services.Sandboxes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// envd's HTTP routes (envd.yaml): <c>GET /files</c> streams a file out, <c>POST /files</c> takes one or more files
/// (multipart, one part per file named by its path, or a raw body for <c>?path=</c>, gzip allowed) and answers their
/// entries; <c>/health</c> says whether the sandbox runs (502 when it does not, which the SDK reads as "gone");
/// <c>/envs</c> is the environment commands start with. Errors are envd's <c>{"code", "message"}</c>.
/// </summary>
internal sealed class EnvdFiles(SandboxManager manager)
{
    private const int Chunk = 1 << 20;

    private static Sandbox? Access(HttpContext context, out IResult? error)
    {
        var services = context.RequestServices;
        var (sandbox, _, refused) = E2bAccess.Sandbox(context, services.GetRequiredService<E2bSandboxes>(), services.GetRequiredService<SandboxManager>(),
            E2bErrorShape.Envd, E2bAccess.EnvdPort);
        error = refused;
        return sandbox;
    }

    private static Task ErrorAsync(HttpContext context, int status, string message) =>
        new E2bError(status, message, E2bErrorShape.Envd).ExecuteAsync(context);

    /// <summary>The user and path of a /files call, or null after the error (an unknown user is envd's 401).</summary>
    private static async Task<(string User, string Path)?> UserAndPathAsync(HttpContext context, bool required)
    {
        var (user, userError) = EnvdUser.FromRequest(context, query: true);
        if (userError is not null) { await ErrorAsync(context, 401, userError); return null; }
        var path = context.Request.Query["path"].ToString();
        if (path.Length > 4096 || path.Contains('\0')) { await ErrorAsync(context, 400, "path is not a valid path"); return null; }
        if (path.Length == 0 && required) { await ErrorAsync(context, 400, "path (query parameter) is required"); return null; }
        return (user!, path);
    }

    /// <summary>An agent refusal in envd's terms: a missing file 404, a directory 400, a path it may not write 403.</summary>
    private static Task AgentErrorAsync(HttpContext context, string path, AgentException ex) => ex.Code switch
    {
        AgentErrors.NotFound => ErrorAsync(context, 404, $"path '{Shown(path)}' does not exist"),
        AgentErrors.Invalid or AgentErrors.Exists => ErrorAsync(context, 400, $"path '{Shown(path)}': {ex.Message}"),
        AgentErrors.Denied => ErrorAsync(context, 403, $"error opening file '{Shown(path)}': permission denied ({ex.Message})"),
        AgentErrors.TooLarge => ErrorAsync(context, 507, "not enough disk space available"),
        "sandbox_gone" => ErrorAsync(context, 502, "the sandbox has ended"),
        _ => ErrorAsync(context, 500, ex.Message),
    };

    public async Task DownloadAsync(HttpContext context)
    {
        var sandbox = Access(context, out var refused);
        if (refused is not null) { await refused.ExecuteAsync(context); return; }
        if (await UserAndPathAsync(context, required: true) is not var (user, path)) return;
        long offset = 0;
        try
        {
            while (true)
            {
                var at = offset;
                var done = await sandbox!.Agent.CallAsync(AgentOps.FsRead, w =>
                {
                    w.WriteString("path", path);
                    w.WriteNumber("offset", at);
                    w.WriteNumber("length", Chunk);
                    w.WriteBoolean("anywhere", true);
                    w.WriteString("user", user);
                }, context.RequestAborted);
                var data = done.GetProperty("data_b64").GetBytesFromBase64();
                if (offset == 0)
                {
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/octet-stream";
                    if (done.TryGetProperty("size", out var size) && size.TryGetInt64(out var length)) context.Response.ContentLength = length;
                }
                await context.Response.Body.WriteAsync(data, context.RequestAborted);
                offset += data.Length;
                if (data.Length == 0 || done.TryGetProperty("eof", out var eof) && eof.ValueKind == JsonValueKind.True) return;
            }
        }
        catch (AgentException ex)
        {
            // Before the first byte a clean error; after it the truncated body is all there is to say.
            if (offset == 0 && !context.Response.HasStarted) await AgentErrorAsync(context, path, ex);
            else context.Abort();
        }
        catch (OperationCanceledException) { }
    }

    public async Task UploadAsync(HttpContext context)
    {
        var sandbox = Access(context, out var refused);
        if (refused is not null) { await refused.ExecuteAsync(context); return; }
        if (await UserAndPathAsync(context, required: false) is not var (user, path)) return;
        var max = manager.Options.MaxFileBytes;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = max * 16 + Chunk;
        var written = new List<string>();
        var current = path;
        try
        {
            var contentType = context.Request.ContentType ?? "";
            if (MediaTypeHeaderValue.TryParse(contentType, out var type) && type.MediaType.Value == "multipart/form-data")
            {
                var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
                if (string.IsNullOrEmpty(boundary)) { await ErrorAsync(context, 400, "multipart/form-data needs a boundary"); return; }
                var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = max + Chunk };
                while (await reader.ReadNextSectionAsync(context.RequestAborted) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileName.HasValue ? disposition.FileName : disposition.FileNameStar).Value;
                    // envd: the path parameter names the file when given, else each part's file name is its path.
                    current = path.Length > 0 ? path : fileName ?? "";
                    if (current.Length == 0) { await ErrorAsync(context, 400, "a file part needs a file name (its path) when no path parameter is given"); return; }
                    if (await WriteAsync(sandbox!, current, user, section.Body, max, context) is null) return;
                    written.Add(current);
                }
            }
            else
            {
                if (path.Length == 0) { await ErrorAsync(context, 400, "path (query parameter) is required for a raw upload"); return; }
                var body = context.Request.Headers.ContentEncoding.ToString() switch
                {
                    "" or "identity" => context.Request.Body,
                    "gzip" => new GZipStream(context.Request.Body, CompressionMode.Decompress),
                    var other => null,
                };
                if (body is null) { await ErrorAsync(context, 400, "Content-Encoding must be gzip or identity"); return; }
                if (await WriteAsync(sandbox!, path, user, body, max, context) is null) return;
                written.Add(path);
            }
        }
        catch (AgentException ex) { await AgentErrorAsync(context, current, ex); return; }
        catch (Exception ex) when (ex is InvalidDataException or IOException or BadHttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            await ErrorAsync(context, 400, $"malformed upload: {ex.Message.Trim()}");
            return;
        }
        if (written.Count == 0) { await ErrorAsync(context, 400, "no file in the upload (send multipart/form-data with a file part)"); return; }
        var entries = new List<JsonElement>();
        try
        {
            foreach (var p in written)
                entries.Add((await sandbox!.Agent.CallAsync(AgentOps.FsStat, w => { w.WriteString("path", p); w.WriteString("user", user); }, context.RequestAborted)).GetProperty("entry"));
        }
        catch (AgentException ex) { await AgentErrorAsync(context, current, ex); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartArray();
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteString("path", e.GetProperty("path").GetString());
                w.WriteString("name", e.GetProperty("name").GetString());
                w.WriteString("type", e.GetProperty("type").GetString() == "dir" ? "directory" : "file");
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>One file's body into the sandbox; its size, or null after answering 413.</summary>
    private static async Task<long?> WriteAsync(Sandbox sandbox, string path, string user, Stream body, long max, HttpContext context)
    {
        var size = await FileEndpoints.WriteStreamAsync(sandbox, path, body, max, context.RequestAborted, user);
        if (size >= 0) return size;
        await ErrorAsync(context, 413, $"the file is larger than the limit of {max} bytes (sandboxes.max_file_bytes)");
        return null;
    }

    public async Task HealthAsync(HttpContext context)
    {
        Access(context, out var refused);
        if (refused is not null) { await refused.ExecuteAsync(context); return; }
        context.Response.StatusCode = 204;
    }

    public async Task EnvsAsync(HttpContext context)
    {
        var sandbox = Access(context, out var refused);
        if (refused is not null) { await refused.ExecuteAsync(context); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            foreach (var (k, v) in ProcessService.EnvironmentOf(sandbox!)) w.WriteString(k, v);
            w.WriteEndObject();
        });
    }

    private static string Shown(string s) => s.Length > 200 ? s[..200] + "..." : s;
}
