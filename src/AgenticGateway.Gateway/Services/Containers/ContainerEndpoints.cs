using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Services.Sandboxes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Services.Containers;

/// <summary>
/// OpenAI's Containers API (openai-node <c>resources/containers</c>) over sandboxes: containers and their files, with
/// and without the /v1 prefix as the gateway's other OpenAI routes. Every route is scoped to the caller (the owner
/// the sandbox API uses): another key's container or file is a 404.
/// </summary>
internal static class ContainerEndpoints
{
    public static void AddContainers(IServiceCollection services)
    {
        services.AddSingleton<SandboxContainers>();
        services.AddSingleton<CodeInterpreter>();
    }

    public static void Map(IEndpointRouteBuilder routes)
    {
        var http = routes.ServiceProvider.GetRequiredService<SandboxHttp>();
        var containers = routes.ServiceProvider.GetRequiredService<SandboxContainers>();
        var app = routes.MapGroup("").Gateway(GatewayRoute.Sandboxes);
        foreach (var prefix in new[] { "/v1", "" })
        {
            var c = prefix + "/containers/{container_id}";
            app.MapPost(prefix + "/containers", (HttpContext x) => CreateAsync(x, http, containers)).WithSummary("Create a container (a python sandbox)");
            app.MapGet(prefix + "/containers", (HttpContext x) => ListAsync(x, http, containers)).WithSummary("List your containers");
            app.MapGet(c, (HttpContext x, string container_id) => GetAsync(x, http, containers, container_id)).WithSummary("Retrieve a container");
            app.MapDelete(c, (HttpContext x, string container_id) => DeleteAsync(x, http, containers, container_id)).WithSummary("Delete a container");
            app.MapPost(c + "/files", (HttpContext x, string container_id) => UploadAsync(x, http, containers, container_id)).WithSummary("Upload a file into a container (multipart, field \"file\")");
            app.MapGet(c + "/files", (HttpContext x, string container_id) => ListFilesAsync(x, http, containers, container_id)).WithSummary("List a container's files");
            app.MapGet(c + "/files/{file_id}", (HttpContext x, string container_id, string file_id) => GetFileAsync(x, http, containers, container_id, file_id)).WithSummary("Retrieve a container file");
            app.MapGet(c + "/files/{file_id}/content", (HttpContext x, string container_id, string file_id) => ContentAsync(x, http, containers, container_id, file_id)).WithSummary("Download a container file's bytes");
            app.MapDelete(c + "/files/{file_id}", (HttpContext x, string container_id, string file_id) => DeleteFileAsync(x, http, containers, container_id, file_id)).WithSummary("Delete a container file");
        }
    }

    private static async Task CreateAsync(HttpContext context, SandboxHttp http, SandboxContainers containers)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (await SandboxHttp.BodyAsync(context, 64 * 1024) is not { } body) return;
        if (ContainerRequest.TryRead(body, containers.MaxMinutes, out var request) is { } invalid) { await PipelineErrors.WriteAsync(context, invalid); return; }
        var (sandbox, error) = await containers.CreateAsync(owner, request!, context.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w => containers.Write(w, sandbox!));
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http, SandboxContainers containers)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (await PageAsync(context) is not { } page) return;
        var name = SandboxHttp.Query(context, "name");
        var all = containers.List(owner)
            .Where(s => name is null || SandboxContainers.NameOf(s) == name)
            .OrderBy(s => s.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal).ToList();
        await WritePageAsync(context, page, all, SandboxContainers.IdOf, containers.Write);
    }

    private static async Task GetAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id)
    {
        if (await ContainerAsync(context, http, containers, id) is not { } sandbox) return;
        await SandboxHttp.JsonAsync(context.Response, 200, w => containers.Write(w, sandbox));
    }

    private static async Task DeleteAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id)
    {
        if (await ContainerAsync(context, http, containers, id) is not { } sandbox) return;
        await containers.DeleteAsync(sandbox);
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", SandboxContainers.IdOf(sandbox));
            w.WriteString("object", "container.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    private static async Task UploadAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id)
    {
        if (await ContainerAsync(context, http, containers, id) is not { } sandbox) return;
        var contentType = context.Request.ContentType ?? "";
        if (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            // OpenAI's other form copies a file of its Files API, which this gateway does not have.
            if (await SandboxHttp.BodyAsync(context, 64 * 1024) is null) return;
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("file_id: this gateway has no Files API to copy a file from; upload the file's bytes as multipart/form-data in the field \"file\".", "file_id"));
            return;
        }
        var boundary = MediaTypeHeaderValue.TryParse(contentType, out var type) ? HeaderUtilities.RemoveQuotes(type.Boundary).Value : null;
        if (type?.MediaType.Value != "multipart/form-data" || string.IsNullOrEmpty(boundary))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Send multipart/form-data with the file in the field \"file\".", "file"));
            return;
        }
        var max = containers.Manager.Options.MaxFileBytes;
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = max + (1 << 20);
        var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = max };
        ContainerFile? saved = null;
        try
        {
            while (await reader.ReadNextSectionAsync(context.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || HeaderUtilities.RemoveQuotes(disposition.Name).Value != "file" || saved is not null)
                {
                    await section.Body.CopyToAsync(Stream.Null, context.RequestAborted);
                    continue;
                }
                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                if (ContainerFiles.PathFor(fileName) is not { } path)
                {
                    await PipelineErrors.WriteAsync(context, ApiError.BadRequest("file: the part needs a file name (not empty, not starting with '.', at most 255 characters).", "file"));
                    return;
                }
                var size = await FileEndpoints.WriteStreamAsync(sandbox, path, section.Body, max, context.RequestAborted);
                if (size < 0) { await TooLargeAsync(context, max); return; }
                ContainerFiles.MarkUploaded(sandbox, path);
                saved = await ContainerFiles.StatAsync(sandbox, path, context.RequestAborted);
            }
        }
        catch (InvalidDataException ex) when (ex.Message.Contains("length limit", StringComparison.OrdinalIgnoreCase)) { await TooLargeAsync(context, max); return; }
        catch (InvalidDataException ex) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Malformed multipart body: {ex.Message}", "file")); return; }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge) { await TooLargeAsync(context, max); return; }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Malformed multipart body: {ex.Message.Trim()}", "file"));
            return;
        }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); return; }
        if (saved is null) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Missing required parameter: 'file' (a multipart part named \"file\").", "file")); return; }
        containers.Touch(sandbox, TimeSpan.Zero);
        await SandboxHttp.JsonAsync(context.Response, 200, w => ContainerFiles.Write(w, SandboxContainers.IdOf(sandbox), saved));
    }

    private static async Task ListFilesAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id)
    {
        if (await ContainerAsync(context, http, containers, id) is not { } sandbox) return;
        if (await PageAsync(context) is not { } page) return;
        List<ContainerFile> files;
        try { files = await ContainerFiles.ListAsync(sandbox, context.RequestAborted); }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); return; }
        var containerId = SandboxContainers.IdOf(sandbox);
        await WritePageAsync(context, page, files, f => f.Id, (w, f) => ContainerFiles.Write(w, containerId, f));
    }

    private static async Task GetFileAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id, string fileId)
    {
        if (await FileAsync(context, http, containers, id, fileId) is not var (sandbox, file)) return;
        await SandboxHttp.JsonAsync(context.Response, 200, w => ContainerFiles.Write(w, SandboxContainers.IdOf(sandbox), file));
    }

    private static async Task ContentAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id, string fileId)
    {
        if (await FileAsync(context, http, containers, id, fileId) is not var (sandbox, file)) return;
        containers.Touch(sandbox, TimeSpan.Zero);
        await FileEndpoints.StreamAsync(context, sandbox, file.Path, "application/octet-stream");
    }

    private static async Task DeleteFileAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id, string fileId)
    {
        if (await FileAsync(context, http, containers, id, fileId) is not var (sandbox, file)) return;
        try { await ContainerFiles.RemoveAsync(sandbox, file, context.RequestAborted); }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); return; }
        containers.Touch(sandbox, TimeSpan.Zero);
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", file.Id);
            w.WriteString("object", "container.file.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    /// <summary>The caller's container, or null after the error (404 for a missing or foreign one: its existence is not revealed).</summary>
    private static async Task<Sandbox?> ContainerAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return null;
        if (containers.Find(owner, id) is { } sandbox) return sandbox;
        await PipelineErrors.WriteAsync(context, NotFound(id));
        return null;
    }

    public static ApiError NotFound(string id) =>
        new(404, $"No container found with id '{SandboxHttp.Truncate(id)}' (it may have expired or been deleted).", "invalid_request_error", "container_not_found", "container_id");

    private static async Task<(Sandbox Sandbox, ContainerFile File)?> FileAsync(HttpContext context, SandboxHttp http, SandboxContainers containers, string id, string fileId)
    {
        if (await ContainerAsync(context, http, containers, id) is not { } sandbox) return null;
        ContainerFile? file;
        try { file = await ContainerFiles.FindAsync(sandbox, fileId, context.RequestAborted); }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex)); return null; }
        if (file is not null) return (sandbox, file);
        await PipelineErrors.WriteAsync(context, new ApiError(404, $"No file found with id '{SandboxHttp.Truncate(fileId)}' in container '{SandboxContainers.IdOf(sandbox)}'.", "invalid_request_error", "file_not_found", "file_id"));
        return null;
    }

    private sealed record Page(string? After, int Limit, bool Descending);

    /// <summary>OpenAI's cursor parameters: after (an id of the previous page), limit 1-100 (default 20), order asc or desc (default desc).</summary>
    private static async Task<Page?> PageAsync(HttpContext context)
    {
        var limit = 20;
        if (SandboxHttp.Query(context, "limit") is { } l && (!int.TryParse(l, out limit) || limit < 1 || limit > 100))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("limit must be an integer between 1 and 100.", "limit"));
            return null;
        }
        var order = SandboxHttp.Query(context, "order") ?? "desc";
        if (order is not ("asc" or "desc"))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("order must be \"asc\" or \"desc\".", "order"));
            return null;
        }
        return new Page(SandboxHttp.Query(context, "after"), limit, order == "desc");
    }

    /// <summary>One page of <paramref name="items"/> (given oldest first) in OpenAI's list shape: data, first_id, last_id, has_more.</summary>
    private static async Task WritePageAsync<T>(HttpContext context, Page page, List<T> items, Func<T, string> idOf, Action<Utf8JsonWriter, T> write)
    {
        if (page.Descending) items.Reverse();
        var start = 0;
        if (page.After is { } after)
        {
            var at = items.FindIndex(i => idOf(i) == after);
            if (at < 0)
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"after: no object with id '{SandboxHttp.Truncate(after)}' in this list (it may have been deleted or expired).", "after"));
                return;
            }
            start = at + 1;
        }
        var slice = items.Skip(start).Take(page.Limit).ToList();
        var hasMore = start + slice.Count < items.Count;
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var item in slice) write(w, item);
            w.WriteEndArray();
            if (slice.Count > 0) { w.WriteString("first_id", idOf(slice[0])); w.WriteString("last_id", idOf(slice[^1])); }
            else { w.WriteNull("first_id"); w.WriteNull("last_id"); }
            w.WriteBoolean("has_more", hasMore);
            w.WriteEndObject();
        });
    }

    private static Task TooLargeAsync(HttpContext context, long max) =>
        PipelineErrors.WriteAsync(context, new ApiError(413, $"The file is larger than the limit of {max} bytes (sandboxes.max_file_bytes).", "invalid_request_error", "file_too_large", "file"));
}
