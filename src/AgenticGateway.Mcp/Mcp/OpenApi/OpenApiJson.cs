using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>Source-generated JSON for the OpenAPI upstream: specs and schemas are handled as JSON trees.</summary>
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSourceGenerationOptions(MaxDepth = 512)]
internal sealed partial class OpenApiJson : JsonSerializerContext;
