using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

internal sealed partial class MockEngine
{
    private async Task CompletionsAsync(IMockExchange exchange, JsonElement body, string model, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            await WriteErrorAsync(exchange, 400, "you must provide a prompt parameter", "invalid_request_error", null, "prompt", cancellationToken);
            return;
        }
        // A list of strings is a batch: OpenAI answers one choice per prompt (token arrays are one prompt each too).
        var prompts = prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String)
            ? prompt.EnumerateArray().Select(p => p.GetString()!).ToList()
            : [prompt.ValueKind == JsonValueKind.String ? prompt.GetString()! : prompt.GetRawText()];
        var maxTokens = IntField(body, "max_tokens") ?? 16;
        var answers = new List<(List<string> Pieces, string Finish)>();
        var promptTokens = 0;
        foreach (var promptText in prompts)
        {
            var promptSeed = Hash(Encoding.UTF8.GetBytes(promptText));
            promptTokens += MockText.CountTokens(promptText);
            var pieces = body.TryGetProperty("mock_response", out var mr) && mr.ValueKind == JsonValueKind.String
                ? MockText.Tokenize(mr.GetString()!) : MockText.Sentence(promptSeed, 8 + (int)(promptSeed % 17));
            var finish = "stop";
            if (pieces.Count > maxTokens) { pieces = pieces.GetRange(0, Math.Max(0, maxTokens)); finish = "length"; }
            answers.Add((pieces, finish));
        }
        var completionTokens = answers.Sum(a => a.Pieces.Count);
        var seed = Hash(Encoding.UTF8.GetBytes(prompt.GetRawText()));
        var id = NewId("cmpl-mock");
        var created = _time.GetUtcNow().ToUnixTimeSeconds();

        if (!BoolField(body, "stream"))
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(512);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteString("object", "text_completion");
                w.WriteNumber("created", created);
                w.WriteString("model", model);
                w.WriteStartArray("choices");
                for (var i = 0; i < answers.Count; i++)
                {
                    w.WriteStartObject();
                    w.WriteString("text", string.Concat(answers[i].Pieces));
                    w.WriteNumber("index", i);
                    w.WriteNull("logprobs");
                    w.WriteString("finish_reason", answers[i].Finish);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("system_fingerprint", "fp_mock");
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", promptTokens);
                w.WriteNumber("completion_tokens", completionTokens);
                w.WriteNumber("total_tokens", promptTokens + completionTokens);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            return;
        }

        var includeUsage = body.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && BoolField(so, "include_usage");
        await StartStreamAsync(exchange, settings, cancellationToken);
        var json = new ArrayBufferWriter<byte>(256);
        var delay = TokenDelay(settings);
        var sent = 0;
        for (var a = 0; a < answers.Count; a++)
        {
            var (pieces, finish) = answers[a];
            for (var i = 0; i <= pieces.Count; i++)
            {
                if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks) { await CutAsync(exchange, sent, cancellationToken); return; }
                if (sent > 0 && delay > TimeSpan.Zero) await Task.Delay(delay, _time, cancellationToken);
                json.ResetWrittenCount();
                using (var w = new Utf8JsonWriter(json))
                {
                    WriteChunkHeader(w, id, created, model, "text_completion");
                    w.WriteStartArray("choices");
                    w.WriteStartObject();
                    w.WriteString("text", i < pieces.Count ? pieces[i] : "");
                    w.WriteNumber("index", a);
                    w.WriteNull("logprobs");
                    if (i < pieces.Count) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
                    w.WriteEndObject();
                    w.WriteEndArray();
                    if (includeUsage) w.WriteNull("usage");
                    w.WriteEndObject();
                }
                await WriteEventAsync(exchange, json, cancellationToken);
                sent++;
            }
        }
        if (includeUsage)
        {
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json)) WriteUsageChunk(w, id, created, model, "text_completion", promptTokens, completionTokens);
            await WriteEventAsync(exchange, json, cancellationToken);
        }
        await exchange.WriteAsync(Done, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    private async Task EmbeddingsAsync(IMockExchange exchange, JsonElement body, string model, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("input", out var input) || input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            await WriteErrorAsync(exchange, 400, "'input' is a required property", "invalid_request_error", null, "input", cancellationToken);
            return;
        }
        var items = new List<string>();
        if (input.ValueKind == JsonValueKind.String) items.Add(input.GetString()!);
        else if (input.GetArrayLength() > 0 && input[0].ValueKind == JsonValueKind.Number) items.Add(input.GetRawText()); // one token array
        else
        {
            foreach (var item in input.EnumerateArray())
                items.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText());
        }
        if (items.Count == 0)
        {
            await WriteErrorAsync(exchange, 400, "'input' must not be empty", "invalid_request_error", null, "input", cancellationToken);
            return;
        }
        var dimensions = Math.Clamp(IntField(body, "dimensions") ?? (model.Contains("large", StringComparison.Ordinal) ? 3072 : 1536), 1, 8192);
        var base64 = body.TryGetProperty("encoding_format", out var ef) && ef.GetString() == "base64";
        var tokens = items.Sum(MockText.CountTokens);
        var lexical = LexicalEmbedding.Applies(model);

        var buffer = new ArrayBufferWriter<byte>(items.Count * dimensions * 12 + 256);
        var vector = new float[dimensions];
        var raw = new byte[dimensions * 4];
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (var i = 0; i < items.Count; i++)
            {
                if (lexical) LexicalEmbedding.Fill(vector, items[i]);
                else FillVector(vector, Hash(Encoding.UTF8.GetBytes(items[i])));
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (base64)
                {
                    for (var k = 0; k < vector.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(k * 4), vector[k]);
                    w.WriteBase64String("embedding", raw);
                }
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (var v in vector) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", model);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", tokens);
            w.WriteNumber("total_tokens", tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
    }

    /// <summary>A unit vector determined by the seed: the same input always embeds the same way.</summary>
    private static void FillVector(float[] vector, ulong seed)
    {
        var x = seed | 1;
        double norm = 0;
        for (var i = 0; i < vector.Length; i++)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            var v = (float)((x % 20001) / 10000.0 - 1.0);
            vector[i] = v;
            norm += v * v;
        }
        var scale = (float)(1 / Math.Sqrt(norm == 0 ? 1 : norm));
        for (var i = 0; i < vector.Length; i++) vector[i] *= scale;
    }
}
