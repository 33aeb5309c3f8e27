using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Templates;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Custom templates: build (POST, answered at once with the build's id; the build runs in a sandbox), list, describe,
/// a build's status and log, delete. Scoped to the caller like sandboxes; the master key's public templates are
/// listed for everyone. The spec comes as JSON, YAML, or multipart/form-data with the files COPY reads.
/// </summary>
internal static class TemplateEndpoints
{
    public static void Map(IEndpointRouteBuilder app, SandboxHttp http, TemplateStore templates)
    {
        app.MapPost("/v1/templates", (HttpContext c) => BuildAsync(c, http, templates)).WithSummary("Build a template (JSON, YAML, or multipart with files)");
        app.MapGet("/v1/templates", (HttpContext c) => ListAsync(c, http, templates)).WithSummary("List your templates and the public ones");
        app.MapGet("/v1/templates/{id}", (HttpContext c, string id) => GetAsync(c, http, templates, id)).WithSummary("Describe a template with its builds");
        app.MapGet("/v1/templates/{id}/builds/{buildId}", (HttpContext c, string id, string buildId) => BuildStatusAsync(c, http, templates, id, buildId))
            .WithSummary("A build's status and log (?logs_offset=)");
        app.MapDelete("/v1/templates/{id}", (HttpContext c, string id) => DeleteAsync(c, http, templates, id)).WithSummary("Delete a template");
    }

    private static async Task BuildAsync(HttpContext context, SandboxHttp http, TemplateStore templates)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        var (request, upload, error) = await ReadAsync(context, http, templates);
        if (error is not null) { upload?.Dispose(); await PipelineErrors.WriteAsync(context, error); return; }
        var (template, build, refused) = templates.Build(owner, request!, upload!);
        if (refused is not null) { await PipelineErrors.WriteAsync(context, refused); return; }
        await SandboxHttp.JsonAsync(context.Response, 202, w => WriteBuild(w, template!, build!, 0));
    }

    /// <summary>The spec and the uploaded files, whichever way they came; the upload is the caller's to dispose on an error.</summary>
    internal static async Task<(TemplateRequest?, TemplateContext?, ApiError?)> ReadAsync(HttpContext context, SandboxHttp http, TemplateStore templates)
    {
        var type = MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var parsed) ? parsed.MediaType.Value : null;
        var options = http.Manager.Options;
        if (type == "multipart/form-data") return await MultipartAsync(context, http, templates, parsed!);
        if (type is "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml")
        {
            var (text, tooLarge) = await TextAsync(context.Request.Body, TemplatePaths.MaxSpecBytes, context.RequestAborted);
            if (tooLarge) return (null, null, new ApiError(413, $"The spec is larger than {TemplatePaths.MaxSpecBytes} bytes.", "invalid_request_error", "spec_too_large"));
            var (yaml, yamlError) = TemplateRequest.FromYaml(text, "body");
            if (yamlError is not null) return (null, null, yamlError);
            using (yaml)
            {
                var (request, error) = TemplateRequest.Parse(yaml!.RootElement, options);
                return error is not null ? (null, null, error) : (request, templates.NewContext(), null);
            }
        }
        var (body, bodyError) = await JsonBody.ReadObjectAsync(context.Request, TemplatePaths.MaxSpecBytes + 64 * 1024, context.RequestAborted);
        if (bodyError is not null) return (null, null, bodyError);
        var (json, jsonError) = TemplateRequest.Parse(body!.Value, options);
        return jsonError is not null ? (null, null, jsonError) : (json, templates.NewContext(), null);
    }

    /// <summary>
    /// Parts: <c>spec</c> (JSON or YAML), <c>dockerfile</c> (its text, instead of or with a spec without one), and the
    /// files: each file part under its file name (a relative path), or a tar archive (optionally gzipped) in a part
    /// named <c>context</c>.
    /// </summary>
    private static async Task<(TemplateRequest?, TemplateContext?, ApiError?)> MultipartAsync(HttpContext context, SandboxHttp http, TemplateStore templates, MediaTypeHeaderValue type)
    {
        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrEmpty(boundary)) return (null, null, ApiError.BadRequest("multipart/form-data needs a boundary."));
        var upload = templates.NewContext();
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = upload.MaxBytes + 2L * TemplatePaths.MaxSpecBytes + (1 << 20);
        string? spec = null, dockerfile = null;
        var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = upload.MaxBytes };
        try
        {
            while (await reader.ReadNextSectionAsync(context.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                var fileName = disposition.FileName.HasValue ? HeaderUtilities.RemoveQuotes(disposition.FileName).Value : null;
                if (name is "spec" or "dockerfile" && fileName is null or "spec.json" or "spec.yaml" or "spec.yml" or "Dockerfile")
                {
                    var (text, tooLarge) = await TextAsync(section.Body, TemplatePaths.MaxSpecBytes, context.RequestAborted);
                    if (tooLarge) return (null, upload, new ApiError(413, $"The {name} part is larger than {TemplatePaths.MaxSpecBytes} bytes.", "invalid_request_error", "spec_too_large", name));
                    if (name == "spec") spec = text; else dockerfile = text;
                    continue;
                }
                string? problem;
                if (name == "context") problem = await upload.AddTarAsync(section.Body, context.RequestAborted);
                else if (!string.IsNullOrEmpty(fileName)) problem = await upload.AddAsync(fileName, section.Body, UnixFileMode.None, context.RequestAborted);
                else continue;
                if (problem is not null) return (null, upload, ApiError.BadRequest($"The upload was refused: {problem}.", name == "context" ? "context" : "files"));
            }
        }
        catch (InvalidDataException ex) { return (null, upload, ApiError.BadRequest($"Malformed multipart body: {ex.Message}")); }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            return (null, upload, ApiError.BadRequest($"Malformed multipart body: {ex.Message.Trim()}"));
        }

        if (spec is null && dockerfile is null) return (null, upload, ApiError.BadRequest("The multipart body needs a 'spec' part (JSON or YAML) or a 'dockerfile' part.", "spec"));
        JsonDocument? document;
        if (spec is null) document = JsonDocument.Parse("{}");
        else if (spec.TrimStart().StartsWith('{'))
        {
            try { document = JsonDocument.Parse(spec); }
            catch (JsonException ex) { return (null, upload, ApiError.BadRequest($"spec: line {(ex.LineNumber ?? 0) + 1}: not valid JSON.", "spec")); }
        }
        else
        {
            var (yaml, yamlError) = TemplateRequest.FromYaml(spec);
            if (yamlError is not null) return (null, upload, yamlError);
            document = yaml;
        }
        using (document)
        {
            var root = document!.RootElement;
            if (dockerfile is not null)
            {
                if (root.ValueKind != JsonValueKind.Object) return (null, upload, ApiError.BadRequest("spec must be an object.", "spec"));
                if (root.TryGetProperty("dockerfile", out _)) return (null, upload, ApiError.BadRequest("Give the Dockerfile once: as the 'dockerfile' part or in the spec.", "dockerfile"));
                using var merged = WithDockerfile(root, dockerfile, context.Request.Query["name"]);
                var (request, error) = TemplateRequest.Parse(merged.RootElement, http.Manager.Options);
                return (request, upload, error);
            }
            var (r, e) = TemplateRequest.Parse(root, http.Manager.Options);
            return (r, upload, e);
        }
    }

    /// <summary>The spec with the dockerfile part added (and the name from ?name= when the spec has none).</summary>
    private static JsonDocument WithDockerfile(JsonElement spec, string dockerfile, string? name)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(dockerfile.Length + 256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var p in spec.EnumerateObject()) p.WriteTo(w);
            if (!spec.TryGetProperty("name", out _) && !string.IsNullOrEmpty(name)) w.WriteString("name", name);
            w.WriteString("dockerfile", dockerfile);
            w.WriteEndObject();
        }
        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    private static async Task<(string Text, bool TooLarge)> TextAsync(Stream body, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes) return ("", true);
            buffer.Write(chunk, 0, read);
        }
        return (Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), false);
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http, TemplateStore templates)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        var list = templates.List(owner).ToList();
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var t in list) WriteTemplate(w, t, owner, null);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task GetAsync(HttpContext context, SandboxHttp http, TemplateStore templates, string id)
    {
        var (owner, template) = await TemplateAsync(context, http, templates, id, includePublic: true);
        if (template is null) return;
        var builds = template.Owner == owner ? templates.Builds(template).ToList() : [];
        await SandboxHttp.JsonAsync(context.Response, 200, w => WriteTemplate(w, template, owner!, builds));
    }

    private static async Task BuildStatusAsync(HttpContext context, SandboxHttp http, TemplateStore templates, string id, string buildId)
    {
        var (_, template) = await TemplateAsync(context, http, templates, id, includePublic: false);
        if (template is null) return;
        if (templates.FindBuild(template, buildId) is not { } build)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"No build '{SandboxHttp.Truncate(buildId)}' of template '{template.Name}' (builds are kept until the gateway restarts).", "invalid_request_error", "template_build_not_found", "build_id"));
            return;
        }
        var offset = int.TryParse(SandboxHttp.Query(context, "logs_offset"), out var o) && o > 0 ? o : 0;
        await SandboxHttp.JsonAsync(context.Response, 200, w => WriteBuild(w, template, build, offset));
    }

    private static async Task DeleteAsync(HttpContext context, SandboxHttp http, TemplateStore templates, string id)
    {
        var (owner, template) = await TemplateAsync(context, http, templates, id, includePublic: false);
        if (template is null) return;
        templates.Delete(owner!, template.Id);
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", template.Id);
            w.WriteString("object", "template.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    /// <summary>The caller's template (or a public one, to read), else a 404 that does not reveal another owner's.</summary>
    private static async Task<(string? Owner, TemplateRecord? Template)> TemplateAsync(HttpContext context, SandboxHttp http, TemplateStore templates, string id, bool includePublic)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return (null, null);
        var template = includePublic ? templates.Resolve(owner, id) : templates.Find(owner, id);
        if (template is null)
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"No template '{SandboxHttp.Truncate(id)}'.", "invalid_request_error", "template_not_found", "id"));
        return (owner, template);
    }

    private static void WriteTemplate(Utf8JsonWriter w, TemplateRecord t, string owner, List<TemplateBuild>? builds)
    {
        w.WriteStartObject();
        w.WriteString("id", t.Id);
        w.WriteString("object", "template");
        w.WriteString("name", t.Name);
        w.WriteString("runtime", t.Runtime);
        w.WriteBoolean("public", t.Public);
        w.WriteBoolean("owned", t.Owner == owner);
        w.WriteString("status", t.Digest is null ? "building" : "ready");
        if (t.Digest is not null) w.WriteString("digest", t.Digest);
        w.WriteNumber("layer_bytes", t.LayerBytes);
        w.WriteString("workdir", t.Workdir);
        w.WriteStartObject("env");
        foreach (var (k, v) in t.Env) w.WriteString(k, v);
        w.WriteEndObject();
        if (t.StartCommand is not null) w.WriteString("start_command", t.StartCommand); else w.WriteNull("start_command");
        if (t.Owner == owner && t.LastBuildId is not null) w.WriteString("last_build_id", t.LastBuildId);
        w.WriteNumber("build_count", t.BuildCount);
        w.WriteString("created_at", t.CreatedAt);
        w.WriteString("updated_at", t.UpdatedAt);
        if (builds is not null)
        {
            w.WriteStartArray("builds");
            foreach (var b in builds)
            {
                w.WriteStartObject();
                w.WriteString("build_id", b.Id);
                w.WriteString("status", b.Status);
                w.WriteBoolean("cached", b.Cached);
                w.WriteString("started_at", b.StartedAt);
                if (b.FinishedAt is { } f) w.WriteString("finished_at", f);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteBuild(Utf8JsonWriter w, TemplateRecord t, TemplateBuild b, int logsOffset)
    {
        w.WriteStartObject();
        w.WriteString("object", "template.build");
        w.WriteString("template_id", t.Id);
        w.WriteString("name", t.Name);
        w.WriteString("build_id", b.Id);
        w.WriteString("status", b.Status);
        w.WriteBoolean("cached", b.Cached);
        w.WriteString("digest", b.Digest);
        w.WriteString("started_at", b.StartedAt);
        if (b.FinishedAt is { } f) w.WriteString("finished_at", f);
        if (b.Error is not null)
        {
            w.WriteStartObject("error");
            w.WriteString("message", b.Error);
            if (b.FailedLine is { } line) w.WriteNumber("line", line);
            w.WriteEndObject();
        }
        w.WriteNumber("logs_offset", logsOffset);
        w.WriteStartArray("logs");
        foreach (var l in b.Lines(logsOffset))
        {
            w.WriteStartObject();
            w.WriteString("timestamp", l.Timestamp);
            w.WriteString("level", l.Level);
            w.WriteString("message", l.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
