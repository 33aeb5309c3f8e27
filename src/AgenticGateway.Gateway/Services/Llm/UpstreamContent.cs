using System.Net;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// The outbound body: the client's bytes with only the model value replaced, so unknown fields, their order and
/// their formatting reach the provider unchanged.
/// </summary>
internal sealed class UpstreamContent : HttpContent
{
    private static readonly System.Net.Http.Headers.MediaTypeHeaderValue Json = new("application/json");
    private readonly ReadOnlyMemory<byte> _body;
    private readonly int _modelStart;
    private readonly int _modelEnd;
    private readonly byte[]? _model;
    private readonly int _insertAt;
    private readonly byte[]? _insert;

    /// <param name="model">The replacement model as a JSON string token (quotes included), or null to keep it.</param>
    /// <param name="insertAt">Offset of the body's closing brace, where <paramref name="insert"/> goes.</param>
    /// <param name="insert">Extra members to add (starting with a comma), or null.</param>
    public UpstreamContent(ReadOnlyMemory<byte> body, int modelStart, int modelEnd, byte[]? model, int insertAt = 0, byte[]? insert = null)
    {
        _body = body;
        _modelStart = modelStart;
        _modelEnd = modelEnd;
        _model = model;
        _insertAt = insertAt;
        _insert = insert;
        Headers.ContentType = Json;
    }

    /// <summary>The body with its model replaced by <paramref name="modelToken"/> (left alone when it is already that).</summary>
    public static UpstreamContent WithModel(ReadOnlyMemory<byte> body, in OpenAi.ParsedRequest parsed, byte[] modelToken, byte[]? insert = null)
    {
        var same = body.Span[parsed.ModelStart..parsed.ModelEnd].SequenceEqual(modelToken);
        return new UpstreamContent(body, parsed.ModelStart, parsed.ModelEnd, same ? null : modelToken, parsed.ObjectEnd, insert);
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var tail = _insert is null ? _body.Length : _insertAt;
        if (_model is null) await stream.WriteAsync(_body[..tail], cancellationToken);
        else
        {
            // The model always comes before the closing brace.
            await stream.WriteAsync(_body[.._modelStart], cancellationToken);
            await stream.WriteAsync(_model, cancellationToken);
            await stream.WriteAsync(_body[_modelEnd..tail], cancellationToken);
        }
        if (_insert is not null)
        {
            await stream.WriteAsync(_insert, cancellationToken);
            await stream.WriteAsync(_body[_insertAt..], cancellationToken);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = (_model is null ? _body.Length : _body.Length - (_modelEnd - _modelStart) + _model.Length) + (_insert?.Length ?? 0);
        return true;
    }
}
