using System.Collections.Immutable;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>One operation of the spec served as a tool: the tool clients see and what calling it sends.</summary>
internal sealed record OpenApiOperation(Tool Tool, HttpMethod Method, string PathTemplate, ImmutableArray<OpenApiParameter> Parameters, OpenApiBody? Body)
{
    public string Describe() => $"{Method} {PathTemplate}";
}

internal enum ParameterLocation { Path, Query, Header, Cookie }

/// <summary>
/// A parameter and the tool argument that carries it (<paramref name="Property"/>: its own name, or
/// <c>{in}_{name}</c> when another parameter or the body took that name). Style and explode as the spec says, with
/// OpenAPI's defaults (form/explode for query and cookie, simple for path and header).
/// </summary>
internal sealed record OpenApiParameter(string Name, ParameterLocation In, string Property, bool Required, bool Explode);

internal enum BodyEncoding { Json, Form, Text }

/// <summary>The request body, sent from the <c>body</c> argument (LiteLLM's name) as <paramref name="MediaType"/>.</summary>
internal sealed record OpenApiBody(string MediaType, BodyEncoding Encoding, bool Required, bool SchemaIsString)
{
    public const string Property = "body";
}
