using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;

using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// envd, the agent inside every E2B sandbox, as the official SDK reaches it through <c>E2B_SANDBOX_URL</c>: the
/// sandbox named by <c>E2b-Sandbox-Id</c> (port <c>49983</c>) and unlocked by <c>X-Access-Token</c>; Connect RPC in
/// JSON for <c>process.Process</c> and <c>filesystem.Filesystem</c>, and the HTTP routes <c>/files</c>,
/// <c>/health</c> and <c>/envs</c>. Everything is carried out by the gateway's own sandbox agent.
/// </summary>
internal static partial class EnvdEndpoints
{
    /// <summary>
    /// The services' state (running commands, watchers) per app: the E2B endpoints may be mapped twice (under the
    /// prefix and on their own host name), and both must see the same processes.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IServiceProvider, Tuple<ProcessService, FilesystemService>> State = new();

    /// <param name="group">The E2B route group (its prefix, <c>/e2b</c>, and its route metadata).</param>
    public static void Map(IEndpointRouteBuilder group)
    {
        var services = group.ServiceProvider;
        var (processes, filesystem) = State.GetValue(services, _ => Tuple.Create(new ProcessService(), new FilesystemService()));
        var files = new EnvdFiles(services.GetRequiredService<SandboxManager>());
        group.MapPost("/process.Process/{method}", (HttpContext c, string method) =>
            ServeAsync(c, method, ProcessService.Methods, processes.ServeAsync)).WithSummary("envd: process.Process (Connect RPC)");
        group.MapPost("/filesystem.Filesystem/{method}", (HttpContext c, string method) =>
            ServeAsync(c, method, FilesystemService.Methods, filesystem.ServeAsync)).WithSummary("envd: filesystem.Filesystem (Connect RPC)");
        group.MapGet("/files", (HttpContext c) => files.DownloadAsync(c)).WithSummary("envd: download a file");
        group.MapPost("/files", (HttpContext c) => files.UploadAsync(c)).WithSummary("envd: upload files (multipart or raw)");
        group.MapGet("/health", (HttpContext c) => files.HealthAsync(c)).WithSummary("envd: health (204 while the sandbox runs)");
        group.MapGet("/envs", (HttpContext c) => files.EnvsAsync(c)).WithSummary("envd: the environment commands start with");
    }

    private static async Task ServeAsync(HttpContext context, string method, IReadOnlyDictionary<string, ConnectKind> methods,
        Func<string, ConnectCall, Sandbox, Task> serve)
    {
        var known = methods.TryGetValue(method, out var kind);
        // An unknown method answers in the framing its caller used, so a streaming client can read the error too.
        if (!known) kind = (context.Request.ContentType ?? "").StartsWith(ConnectCall.StreamType, StringComparison.OrdinalIgnoreCase) ? ConnectKind.ServerStream : ConnectKind.Unary;
        var call = new ConnectCall(context, kind);
        try
        {
            if (!known) throw new ConnectError(ConnectError.Unimplemented, $"{context.Request.Path.Value?.Split('/')[^2]}/{SandboxHttp.Truncate(method)} is not a method this envd serves");
            if (call.CheckContentType() is { } unsupported)
            {
                await WriteUnsupportedAsync(context, unsupported);
                return;
            }
            var sandbox = Access(context);
            var (user, userError) = EnvdUser.FromRequest(context, query: false);
            if (userError is not null) throw new ConnectError(ConnectError.Unauthenticated, userError);
            call.User = user!;
            if (kind == ConnectKind.ClientStream && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = null;        // a long input stream; each message is capped instead
            await serve(method, call, sandbox);
            if (call.IsStream) await call.EndAsync();
        }
        catch (ConnectError error)
        {
            await call.FailAsync(error);
        }
        catch (AgentException ex)
        {
            await call.FailAsync(ConnectError.FromAgent(ex));
        }
        catch (BadHttpRequestException ex)
        {
            await call.FailAsync(ConnectError.Invalid($"the request body could not be read: {ex.Message}"));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client left.
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            // A fault of ours (an agent answer of an unexpected shape, say): logged, and the caller gets Connect's internal.
            Failed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EnvdEndpoints)), method, ex);
            await call.FailAsync(new ConnectError(ConnectError.Internal, "envd failed to serve the call; the gateway's log has the details"));
        }
    }

    [LoggerMessage(EventId = 2240, Level = LogLevel.Error, Message = "envd {Method} failed")]
    private static partial void Failed(ILogger logger, string method, Exception exception);

    /// <summary>The sandbox the call is for, or the access check's refusal as a Connect error.</summary>
    private static Sandbox Access(HttpContext context)
    {
        var services = context.RequestServices;
        var (sandbox, _, error) = E2bAccess.Sandbox(context, services.GetRequiredService<E2bSandboxes>(), services.GetRequiredService<SandboxManager>(),
            E2bErrorShape.Connect, E2bAccess.EnvdPort);
        if (error is E2bError e)
            throw new ConnectError(e switch
            {
                // Not running: unavailable, which the SDK turns into SandboxNotFoundError ("probably not running anymore").
                { SandboxNotRunning: true } => ConnectError.Unavailable,
                // A port this path does not serve.
                { Status: 502 } => ConnectError.Unimplemented,
                _ => E2bError.ConnectCode(e.Status),
            }, e.Message);
        return sandbox!;
    }

    /// <summary>The protocol's 415 for a codec this server does not speak (binary protobuf), with the one it does.</summary>
    private static Task WriteUnsupportedAsync(HttpContext context, ConnectError error)
    {
        context.Response.Headers["Accept-Post"] = $"{ConnectCall.UnaryType}, {ConnectCall.StreamType}";
        context.Response.StatusCode = 415;
        context.Response.ContentType = ConnectCall.UnaryType;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("code", error.Code);
            w.WriteString("message", error.Message);
            w.WriteEndObject();
        }
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }

}
