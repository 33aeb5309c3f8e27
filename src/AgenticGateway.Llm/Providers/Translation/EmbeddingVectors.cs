using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace AgenticGateway.Providers.Translation;

/// <summary>Embedding vectors written as OpenAI's embeddings answer.</summary>
internal static class EmbeddingVectors
{
    /// <summary>
    /// OpenAI's <c>{"object":"list","data":[{object,index,embedding}],"model","usage"}</c> from a provider's vectors.
    /// </summary>
    /// <param name="base64">Each vector as base64 little-endian float32 (<c>encoding_format: base64</c>), else a number array.</param>
    /// <param name="float32">Number arrays rounded to float32 (as Google documents its values), else the provider's numbers as they came.</param>
    public static byte[] WriteList(IReadOnlyList<JsonElement> vectors, bool base64, bool float32, string model, long promptTokens)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (var i = 0; i < vectors.Count; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (base64) w.WriteString("embedding", ToBase64(vectors[i]));
                else if (float32)
                {
                    w.WriteStartArray("embedding");
                    foreach (var v in vectors[i].EnumerateArray()) w.WriteNumberValue(v.GetSingle());
                    w.WriteEndArray();
                }
                else
                {
                    w.WritePropertyName("embedding");
                    vectors[i].WriteTo(w);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", model);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", promptTokens);
            w.WriteNumber("total_tokens", promptTokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>OpenAI's <c>encoding_format: base64</c>: little-endian float32 bytes, base64.</summary>
    public static string ToBase64(JsonElement vector)
    {
        var bytes = new byte[vector.GetArrayLength() * 4];
        var i = 0;
        foreach (var v in vector.EnumerateArray()) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i++), v.GetSingle());
        return Convert.ToBase64String(bytes);
    }
}
