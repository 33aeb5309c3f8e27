using System.Collections.Immutable;
using System.IO.Compression;
using Microsoft.Net.Http.Headers;
using ZstdSharp;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>compress</c>: gzip, br or zstd as the client's Accept-Encoding prefers (at equal weight, the order
/// of <c>encodings</c>; <c>*</c> or no header with <c>defaultEncoding</c> takes that), for responses of at least
/// <c>minResponseBodyBytes</c> (1024) not already encoded and whose type passes <c>excludedContentTypes</c> /
/// <c>includedContentTypes</c>. The first bytes are held only until that size is reached; a flush before it sends
/// them uncompressed. application/grpc is never compressed, nor is text/event-stream, so a stream is never held back.
/// </summary>
internal sealed class CompressType : IEdgeMiddlewareType
{
    public const string Gzip = "gzip";
    public const string Brotli = "br";
    public const string Zstd = "zstd";
    private static readonly string[] Supported = [Gzip, Brotli, Zstd];

    public string Name => "compress";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var excludedText = options.Strings("excludedContentTypes");
        var includedText = options.Strings("includedContentTypes");
        var minSize = options.Int("minResponseBodyBytes", 0) ?? 0;
        var encodingsNode = options.Child("encodings");
        var encodings = encodingsNode is null ? [Gzip, Brotli, Zstd] : options.Strings("encodings");
        var defaultEncoding = options.String("defaultEncoding") ?? "";
        options.ReportUnknown();
        var errors = options.Errors.Count;
        if (!excludedText.IsEmpty && !includedText.IsEmpty)
            options.Error(options.Path, "excludedContentTypes and includedContentTypes are mutually exclusive");
        if (encodings.IsEmpty) options.Error(EdgeNode.ChildPath(options.Path, "encodings"), "at least one encoding must be specified (gzip, br, zstd)");
        foreach (var e in encodings)
            if (!Supported.Contains(e)) options.Error(EdgeNode.ChildPath(options.Path, "encodings"), $"unsupported encoding '{e}' (supported: gzip, br, zstd)");
        if (defaultEncoding.Length > 0 && !encodings.Contains(defaultEncoding))
            options.Error(EdgeNode.ChildPath(options.Path, "defaultEncoding"), $"unsupported default encoding '{defaultEncoding}': it must be one of encodings");
        // gRPC is never compressed (Traefik); nor is an event stream, which must reach the client event by event.
        var excluded = ParseTypes(excludedText, options, "excludedContentTypes").Add(new ContentTypeMatch("application/grpc", [])).Add(new ContentTypeMatch("text/event-stream", []));
        var included = ParseTypes(includedText, options, "includedContentTypes");
        if (options.Errors.Count > errors) return null;

        var settings = new CompressSettings(excluded, included, minSize > 0 ? minSize : 1024, encodings, defaultEncoding);
        return next => http => CompressAsync(http, next, settings);
    }

    private static ImmutableArray<ContentTypeMatch> ParseTypes(ImmutableArray<string> items, EdgeOptions options, string key)
    {
        var list = ImmutableArray.CreateBuilder<ContentTypeMatch>();
        foreach (var item in items)
        {
            if (ContentTypeMatch.TryParse(item) is { } match) list.Add(match);
            else options.Error(EdgeNode.ChildPath(options.Path, key), $"'{item}' is not a media type");
        }
        return list.ToImmutable();
    }

    private static async Task CompressAsync(HttpContext http, RequestDelegate next, CompressSettings settings)
    {
        var request = http.Request;
        if (HttpMethods.IsHead(request.Method)) { await next(http); return; }
        // Traefik also looks at the request's type: a request that is itself an event stream or gRPC is left alone.
        if (ContentTypeMatch.TryParse(request.ContentType ?? "") is { } requestType && settings.Excluded.Any(e => e.MediaType == requestType.MediaType))
        {
            await next(http);
            return;
        }
        string encoding;
        if (!request.Headers.TryGetValue(HeaderNames.AcceptEncoding, out var accept))
        {
            // Without the header any coding is acceptable (RFC 9110), but Traefik encodes only when told a default.
            if (settings.DefaultEncoding.Length == 0) { await next(http); return; }
            encoding = settings.DefaultEncoding;
        }
        else encoding = AcceptEncoding.Choose(accept, settings.Encodings, settings.DefaultEncoding);
        if (!Supported.Contains(encoding)) { await next(http); return; }

        http.Response.Headers.Append(HeaderNames.Vary, HeaderNames.AcceptEncoding);
        var body = new CompressingBody(http, encoding, settings);
        body.Install();
        try
        {
            await next(http);
            await body.FinishAsync(http.RequestAborted);
        }
        finally
        {
            await body.UninstallAsync();
            await body.DisposeCompressorAsync();
        }
    }
}

internal sealed record CompressSettings(ImmutableArray<ContentTypeMatch> Excluded, ImmutableArray<ContentTypeMatch> Included, int MinSize,
    ImmutableArray<string> Encodings, string DefaultEncoding);

/// <summary>A configured media type: the type must match; parameters, when configured, must all match exactly.</summary>
internal sealed record ContentTypeMatch(string MediaType, ImmutableArray<KeyValuePair<string, string>> Parameters)
{
    public static ContentTypeMatch? TryParse(string text)
    {
        if (!MediaTypeHeaderValue.TryParse(text, out var parsed) || parsed.MediaType.Value is not { } type || !type.Contains('/')) return null;
        return new ContentTypeMatch(type.ToLowerInvariant(),
            [.. parsed.Parameters.Select(p => new KeyValuePair<string, string>(p.Name.Value!.ToLowerInvariant(), p.Value.Value?.Trim('"') ?? ""))]);
    }

    public bool Matches(ContentTypeMatch actual)
    {
        if (MediaType != actual.MediaType) return false;
        if (Parameters.IsEmpty) return true;
        if (Parameters.Length != actual.Parameters.Length) return false;
        foreach (var (k, v) in Parameters)
            if (!actual.Parameters.Any(p => p.Key == k && p.Value == v)) return false;
        return true;
    }
}

/// <summary>Traefik's choice among Accept-Encoding's codings.</summary>
internal static class AcceptEncoding
{
    public const string Identity = "identity";

    public static string Choose(IEnumerable<string?> headerValues, ImmutableArray<string> encodings, string defaultEncoding)
    {
        var values = headerValues.ToList();
        // An empty Accept-Encoding asks for no coding at all (RFC 9110).
        if (values.Count == 1 && values[0] == "") return Identity;
        var acceptable = new List<(string Type, double Weight, int Priority)>();
        foreach (var line in values)
        foreach (var item in (line ?? "").Replace(" ", "").Split(','))
        {
            var parts = item.Split(';', 2);
            var type = parts[0];
            // "*" ranks first and identity last at the same weight, the configured order in between.
            int priority;
            if (type == "*") priority = -1;
            else if (type == Identity) priority = encodings.Length;
            else if ((priority = encodings.IndexOf(type)) < 0) continue;
            var weight = 1.0;
            if (parts.Length > 1 && parts[1].StartsWith("q=", StringComparison.Ordinal))
            {
                _ = double.TryParse(parts[1].AsSpan(2), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out weight);
                if (weight == 0) continue;
            }
            acceptable.Add((type, weight, priority));
        }
        if (acceptable.Count == 0) return "not_acceptable";
        var best = acceptable.OrderByDescending(a => a.Weight).ThenBy(a => a.Priority).First();
        if (best.Type == "*") return defaultEncoding.Length > 0 ? defaultEncoding : encodings[0];
        return best.Type;
    }
}

/// <summary>
/// Holds the first bytes until the response is known to be worth compressing (minResponseBodyBytes reached, or a
/// flush), then compresses everything from there; a response that is already encoded, of an excluded type, or
/// smaller, passes as written.
/// </summary>
internal sealed class CompressingBody(HttpContext context, string encoding, CompressSettings settings) : ResponseBodyInterceptor(context)
{
    private enum Mode { Undecided, Pass, Compress }

    private readonly MemoryStream _held = new();
    private Mode _mode;
    private Stream? _compressor;

    protected override async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_mode == Mode.Undecided)
        {
            var length = Context.Response.ContentLength;
            if (!Compressible() || length < settings.MinSize) await PassAsync(cancellationToken);
            else
            {
                _held.Write(data.Span);
                if (_held.Length >= settings.MinSize) await StartCompressingAsync(cancellationToken);
                return;
            }
        }
        if (_mode == Mode.Pass) await Inner.Stream.WriteAsync(data, cancellationToken);
        else await _compressor!.WriteAsync(data, cancellationToken);
    }

    protected override async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        if (_mode == Mode.Undecided)
        {
            // Starting before any byte (Response.WriteAsync starts the response first): a response that will never be
            // compressed starts now; one that may be waits for its bytes, as Traefik holds the status line too.
            if (Compressible() && !(Context.Response.ContentLength < settings.MinSize)) return;
            await PassAsync(cancellationToken);
        }
        await Inner.StartAsync(cancellationToken);
    }

    protected override async Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        if (_mode == Mode.Undecided)
        {
            // Nothing written yet: nothing to flush. Something held but under the minimum: the handler wants it sent
            // now, so the response goes uncompressed and nothing is held back. ASP.NET flushes on every
            // Response.WriteAsync, so forcing compression here, as Traefik's Go handler does on an explicit flush,
            // would compress every small answer.
            if (_held.Length == 0) return;
            await PassAsync(cancellationToken);
        }
        if (_compressor is not null) await _compressor.FlushAsync(cancellationToken);
        await Inner.Stream.FlushAsync(cancellationToken);
    }

    /// <summary>After the handler: what was held (under the minimum) goes out as it is; a compressed stream is closed.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        if (_mode == Mode.Undecided) await PassAsync(cancellationToken);
        if (_compressor is not null)
        {
            await _compressor.DisposeAsync();
            _compressor = null;
        }
    }

    public async ValueTask DisposeCompressorAsync()
    {
        if (_compressor is not null) await _compressor.DisposeAsync();
    }

    private bool Compressible()
    {
        var headers = Context.Response.Headers;
        if (!string.IsNullOrEmpty(headers.ContentEncoding)) return false;
        var type = headers.ContentType.ToString();
        if (type.Length == 0) return settings.Included.IsEmpty || SniffedIncluded();
        if (ContentTypeMatch.TryParse(type) is not { } actual) return false;
        if (!settings.Included.IsEmpty && !settings.Included.Any(i => i.Matches(actual))) return false;
        return !settings.Excluded.Any(e => e.Matches(actual));
    }

    private bool SniffedIncluded() =>
        ContentTypeMatch.TryParse(ContentSniffer.Detect(_held.GetBuffer().AsSpan(0, (int)_held.Length))) is { } sniffed && settings.Included.Any(i => i.Matches(sniffed));

    private void SetSniffedType()
    {
        if (_held.Length > 0 && string.IsNullOrEmpty(Context.Response.ContentType))
            Context.Response.ContentType = ContentSniffer.Detect(_held.GetBuffer().AsSpan(0, (int)_held.Length));
    }

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        _mode = Mode.Pass;
        SetSniffedType();
        if (_held.Length > 0) await Inner.Stream.WriteAsync(_held.GetBuffer().AsMemory(0, (int)_held.Length), cancellationToken);
        _held.SetLength(0);
    }

    private async Task StartCompressingAsync(CancellationToken cancellationToken)
    {
        _mode = Mode.Compress;
        SetSniffedType();
        var headers = Context.Response.Headers;
        // The compressed length is not known in advance.
        headers.ContentLength = null;
        headers.ContentEncoding = encoding;
        // A byte range of the original means nothing in the compressed body.
        headers.Remove(HeaderNames.AcceptRanges);
        var target = Inner.Stream;
        _compressor = encoding switch
        {
            CompressType.Gzip => new GZipStream(target, CompressionLevel.Optimal, leaveOpen: true),
            CompressType.Brotli => new BrotliStream(target, new BrotliCompressionOptions { Quality = 6 }, leaveOpen: true),
            _ => new CompressionStream(target, level: 3, leaveOpen: true),
        };
        if (_held.Length > 0) await _compressor.WriteAsync(_held.GetBuffer().AsMemory(0, (int)_held.Length), cancellationToken);
        _held.SetLength(0);
    }
}
