using System.Net;

namespace AgenticGateway.Pipeline;

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

    /// <param name="model">The replacement model as a JSON string token (quotes included), or null to send the body as is.</param>
    public UpstreamContent(ReadOnlyMemory<byte> body, int modelStart, int modelEnd, byte[]? model)
    {
        _body = body;
        _modelStart = modelStart;
        _modelEnd = modelEnd;
        _model = model;
        Headers.ContentType = Json;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_model is null)
        {
            await stream.WriteAsync(_body, cancellationToken);
            return;
        }
        await stream.WriteAsync(_body[.._modelStart], cancellationToken);
        await stream.WriteAsync(_model, cancellationToken);
        await stream.WriteAsync(_body[_modelEnd..], cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _model is null ? _body.Length : _body.Length - (_modelEnd - _modelStart) + _model.Length;
        return true;
    }
}
