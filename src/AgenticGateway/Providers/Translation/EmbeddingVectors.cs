using System.Buffers.Binary;
using System.Text.Json;

namespace AgenticGateway.Providers.Translation;

/// <summary>Embedding vectors as OpenAI's <c>encoding_format: base64</c> gives them: little-endian float32 bytes, base64.</summary>
internal static class EmbeddingVectors
{
    public static string ToBase64(JsonElement vector)
    {
        var bytes = new byte[vector.GetArrayLength() * 4];
        var i = 0;
        foreach (var v in vector.EnumerateArray()) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i++), v.GetSingle());
        return Convert.ToBase64String(bytes);
    }
}
