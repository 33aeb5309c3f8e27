using System.Net;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// The outbound body: the client's bytes with only what the gateway must change edited in place (the model value
/// replaced, LiteLLM's <c>tags</c> left out, members added before the closing brace), so unknown fields, their order
/// and their formatting reach the provider unchanged.
/// </summary>
internal sealed class UpstreamContent : HttpContent
{
    private static readonly System.Net.Http.Headers.MediaTypeHeaderValue Json = new("application/json");
    private readonly ReadOnlyMemory<byte> _body;
    private readonly Edit[] _edits;

    /// <summary>Bytes [Start, End) of the body replaced by <see cref="With"/> (empty to cut, Start == End to insert).</summary>
    internal readonly record struct Edit(int Start, int End, ReadOnlyMemory<byte> With);

    /// <param name="edits">In body order, not overlapping.</param>
    private UpstreamContent(ReadOnlyMemory<byte> body, Edit[] edits)
    {
        _body = body;
        _edits = edits;
        Headers.ContentType = Json;
    }

    /// <summary>
    /// The body with its model replaced by <paramref name="modelToken"/> (left alone when it is already that), without
    /// LiteLLM's top-level <c>tags</c>, and with <paramref name="insert"/> (members starting with a comma) added at the end.
    /// </summary>
    public static UpstreamContent WithModel(ReadOnlyMemory<byte> body, in OpenAi.ParsedRequest parsed, byte[] modelToken, byte[]? insert = null) =>
        new(body, Edits(body.Span, parsed, modelToken, insert));

    /// <summary>The same edits applied into a new array, for a translator that reads the body rather than sending it.</summary>
    public static byte[] Apply(ReadOnlySpan<byte> body, in OpenAi.ParsedRequest parsed, byte[] insert)
    {
        var edits = Edits(body, parsed, null, insert);
        var result = new byte[body.Length + edits.Sum(e => e.With.Length - (e.End - e.Start))];
        var at = 0;
        var from = 0;
        foreach (var e in edits)
        {
            body[from..e.Start].CopyTo(result.AsSpan(at));
            at += e.Start - from;
            e.With.Span.CopyTo(result.AsSpan(at));
            at += e.With.Length;
            from = e.End;
        }
        body[from..].CopyTo(result.AsSpan(at));
        return result;
    }

    private static Edit[] Edits(ReadOnlySpan<byte> body, in OpenAi.ParsedRequest parsed, byte[]? modelToken, byte[]? insert)
    {
        var model = modelToken is not null && !body[parsed.ModelStart..parsed.ModelEnd].SequenceEqual(modelToken);
        var tags = parsed.TagsEnd > 0;
        var count = (model ? 1 : 0) + (tags ? 1 : 0) + (insert is null ? 0 : 1);
        if (count == 0) return [];
        var edits = new Edit[count];
        var n = 0;
        if (model) edits[n++] = new Edit(parsed.ModelStart, parsed.ModelEnd, modelToken);
        if (tags) edits[n++] = new Edit(parsed.TagsStart, parsed.TagsEnd, ReadOnlyMemory<byte>.Empty);
        if (model && tags && parsed.TagsStart < parsed.ModelStart) (edits[0], edits[1]) = (edits[1], edits[0]);
        // The closing brace comes after every member, so an insertion there is always last.
        if (insert is not null) edits[n] = new Edit(parsed.ObjectEnd, parsed.ObjectEnd, insert);
        return edits;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var from = 0;
        foreach (var e in _edits)
        {
            await stream.WriteAsync(_body[from..e.Start], cancellationToken);
            if (!e.With.IsEmpty) await stream.WriteAsync(e.With, cancellationToken);
            from = e.End;
        }
        await stream.WriteAsync(_body[from..], cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length;
        foreach (var e in _edits) length += e.With.Length - (e.End - e.Start);
        return true;
    }
}
