using System.Text.Json.Serialization;

namespace AgenticGateway.Keys;

[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class KeyJsonContext : JsonSerializerContext;
