using System.Collections.Immutable;

namespace AgenticGateway.Configuration;

/// <summary>
/// The configuration model of the request path, in Traefik's words (seed 004): routers match requests and name the
/// middlewares that wrap them, in order, and the service that serves them; middlewares and services are defined once
/// and named. Today's files (our schema and LiteLLM's) map onto the defaults: one <c>llm</c> service (the deployments,
/// aliases and <c>router:</c> settings) behind the <c>llm</c> router with the in-flight, budget and rate-limit
/// middlewares, and the sandbox, admin and internal routers with none.
/// </summary>
internal sealed record PipelineOptions
{
    public required ImmutableDictionary<string, RouterDefinition> Routers { get; init; }
    public required ImmutableDictionary<string, MiddlewareDefinition> Middlewares { get; init; }
    public required ImmutableDictionary<string, ServiceDefinition> Services { get; init; }

    public static readonly PipelineOptions Default = new()
    {
        Routers = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, RouterDefinition>
        {
            // OpenAI's and Anthropic's LLM routes (chat, completions, embeddings, messages, count_tokens, models).
            ["llm"] = new("llm", ["in-flight", "budget", "rate-limit", "cache"]),
            ["sandboxes"] = new("sandboxes", []),
            // The MCP gateway (/mcp): its limits are per tool, inside the service.
            ["mcp"] = new("mcp", []),
            // Key, team, user, spend, audit and the admin UI's data.
            ["admin"] = new("admin", []),
            // Health, metrics, the admin UI's files, the OpenAPI document.
            ["internal"] = new("internal", []),
        }),
        Middlewares = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, MiddlewareDefinition>
        {
            ["in-flight"] = new("in-flight"),
            ["budget"] = new("budget"),
            ["rate-limit"] = new("rate-limit"),
            ["cache"] = new("cache"),
        }),
        Services = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, ServiceDefinition>
        {
            ["llm"] = new("llm"),
            ["sandboxes"] = new("sandboxes"),
            ["mcp"] = new("mcp"),
            ["admin"] = new("admin"),
            ["internal"] = new("internal"),
        }),
    };
}

/// <summary>A router: the service it sends to and the middlewares around it, in order, by name. Its rule is its routes.</summary>
internal sealed record RouterDefinition(string Service, ImmutableArray<string> Middlewares);

/// <summary>A middleware by its type: <c>in-flight</c> (max parallel requests), <c>budget</c>, <c>rate-limit</c>.</summary>
internal sealed record MiddlewareDefinition(string Type);

/// <summary>A service by its type: <c>llm</c>, <c>sandboxes</c>, <c>admin</c>, <c>internal</c>.</summary>
internal sealed record ServiceDefinition(string Type);
