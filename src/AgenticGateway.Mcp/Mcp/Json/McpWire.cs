using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgenticGateway.Mcp.Json;

/// <summary>Source-generated JSON for what the MCP gateway writes itself (the SDK's own types use McpJsonUtilities).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
internal sealed partial class McpWire : JsonSerializerContext;
