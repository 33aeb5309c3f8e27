using System.Buffers;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The MCP endpoints as an OAuth 2.0 protected resource: their metadata (RFC 9728), which MCP clients read to find the
/// authorization server to get a token from (MCP 2025-11-25, authorization). Served at the well-known path of
/// <c>/mcp</c> and of each <c>/mcp/{server}</c>, and at the well-known root (the clients' last fallback), without
/// credentials. The authorization server is the issuer of the JWTs the gateway accepts; with no issuer configured
/// there is none to point at, and the metadata is not found.
/// </summary>
internal static class McpOAuthMetadata
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/.well-known/oauth-protected-resource", (HttpContext c) => WriteAsync(c, null)).Gateway(GatewayRoute.Public);
        app.MapGet("/.well-known/oauth-protected-resource/mcp", (HttpContext c) => WriteAsync(c, null)).Gateway(GatewayRoute.Public);
        app.MapGet("/.well-known/oauth-protected-resource/mcp/{server}", (HttpContext c, string server) => WriteAsync(c, server)).Gateway(GatewayRoute.Public);
    }

    private static Task WriteAsync(HttpContext context, string? server)
    {
        var options = context.RequestServices.GetRequiredService<RuntimeHolder>().Current.Options;
        if (options.Jwt?.Issuer is not { Length: > 0 } issuer)
            return PipelineErrors.WriteAsync(context, new ApiError(404,
                "This gateway names no authorization server (JWT auth with an issuer is not configured), so it publishes no protected resource metadata.",
                "invalid_request_error", "not_found"));
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            // RFC 9728 §2: resource is the URL the client reached the MCP endpoint at (§3.3: it must match that).
            w.WriteStartObject();
            w.WriteString("resource", Origin(context.Request) + McpOptions.ResourcePath(server));
            w.WriteStartArray("authorization_servers");
            w.WriteStringValue(issuer);
            w.WriteEndArray();
            // The token goes in the Authorization header only (RFC 6750 §2.1); bodies and query strings are not read.
            w.WriteStartArray("bearer_methods_supported");
            w.WriteStringValue("header");
            w.WriteEndArray();
            if (options.Mcp.ScopesSupported.Length > 0)
            {
                w.WriteStartArray("scopes_supported");
                foreach (var scope in options.Mcp.ScopesSupported) w.WriteStringValue(scope);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    /// <summary>Where the client reached the gateway: the request's scheme, host and path base (forwarded headers are not honoured).</summary>
    public static string Origin(HttpRequest request) => request.Scheme + "://" + request.Host.Value + request.PathBase.Value;
}
