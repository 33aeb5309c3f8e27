using System.Collections.Immutable;
using System.IO.Compression;
using System.Text;
using AgenticGateway.Edge.Middlewares;
using Microsoft.AspNetCore.Http;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's compress: the coding the client prefers, only for bodies worth it, never for streams or gRPC.</summary>
[Trait("Category", "unit")]
public class CompressTests
{
    private const string Documented = """
        http:
          middlewares:
            test-compress:
              compress: {}
        """;

    private static readonly string Large = string.Concat(Enumerable.Repeat("All work and no play makes Jack a dull boy. ", 100));

    private static async Task<DefaultHttpContext> SendAsync(string yaml, RequestDelegate backend, params (string, string)[] headers)
    {
        var http = Request(headers: headers);
        await Build(yaml)(backend)(http);
        return http;
    }

    private static string Decode(string encoding, byte[] body)
    {
        using Stream source = encoding switch
        {
            "gzip" => new GZipStream(new MemoryStream(body), CompressionMode.Decompress),
            "br" => new BrotliStream(new MemoryStream(body), CompressionMode.Decompress),
            _ => new ZstdSharp.DecompressionStream(new MemoryStream(body)),
        };
        return new StreamReader(source, Encoding.UTF8).ReadToEnd();
    }

    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("br", "br")]
    [InlineData("zstd", "zstd")]
    [InlineData("gzip, deflate, br, zstd", "gzip")]
    [InlineData("gzip;q=0.5, br", "br")]
    [InlineData("zstd;q=0.9, gzip;q=0.8", "zstd")]
    [InlineData("*", "gzip")]
    public async Task A_large_body_is_compressed_with_the_preferred_coding(string accept, string expected)
    {
        var http = await SendAsync(Documented, Answer(200, Large, "text/plain; charset=utf-8"), ("Accept-Encoding", accept));
        Assert.Equal(expected, http.Response.Headers.ContentEncoding.ToString());
        Assert.Equal("Accept-Encoding", http.Response.Headers.Vary.ToString());
        Assert.Null(http.Response.ContentLength);
        Assert.Equal(Large, Decode(expected, BodyBytes(http)));
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("")]
    [InlineData("deflate")]
    [InlineData("gzip;q=0")]
    public async Task Codings_that_ask_for_none_or_none_supported_leave_the_body_as_it_is(string accept)
    {
        var http = await SendAsync(Documented, Answer(200, Large), ("Accept-Encoding", accept));
        Assert.Equal("", http.Response.Headers.ContentEncoding.ToString());
        Assert.Equal(Large, Body(http));
    }

    [Fact]
    public async Task Small_bodies_already_encoded_ones_and_requests_without_accept_encoding_pass_untouched()
    {
        var small = await SendAsync(Documented, Answer(200, "short"), ("Accept-Encoding", "gzip"));
        Assert.Equal("short", Body(small));
        Assert.Equal("", small.Response.Headers.ContentEncoding.ToString());

        var encoded = await SendAsync(Documented, async http =>
        {
            http.Response.Headers.ContentEncoding = "custom";
            await http.Response.WriteAsync(Large);
        }, ("Accept-Encoding", "gzip"));
        Assert.Equal("custom", encoded.Response.Headers.ContentEncoding.ToString());
        Assert.Equal(Large, Body(encoded));

        var none = await SendAsync(Documented, Answer(200, Large));
        Assert.Equal(Large, Body(none));
    }

    [Fact]
    public async Task The_default_encoding_applies_without_accept_encoding_and_for_a_wildcard()
    {
        const string yaml = """
            http:
              middlewares:
                c:
                  compress:
                    encodings: [zstd, br, gzip]
                    defaultEncoding: br
            """;
        var absent = await SendAsync(yaml, Answer(200, Large));
        Assert.Equal("br", absent.Response.Headers.ContentEncoding.ToString());
        var wildcard = await SendAsync(yaml, Answer(200, Large), ("Accept-Encoding", "*"));
        Assert.Equal("br", wildcard.Response.Headers.ContentEncoding.ToString());
        // At equal weight the order of encodings decides.
        var all = await SendAsync(yaml, Answer(200, Large), ("Accept-Encoding", "gzip, br, zstd"));
        Assert.Equal("zstd", all.Response.Headers.ContentEncoding.ToString());
    }

    [Fact]
    public async Task Content_types_are_filtered_by_the_included_or_excluded_lists()
    {
        const string included = """
            http:
              middlewares:
                c:
                  compress:
                    includedContentTypes: [application/json, "text/html; charset=utf-8"]
            """;
        Assert.Equal("gzip", (await SendAsync(included, Answer(200, Large, "application/json"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());
        Assert.Equal("", (await SendAsync(included, Answer(200, Large, "text/plain"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());
        Assert.Equal("", (await SendAsync(included, Answer(200, Large, "text/html; charset=latin1"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());

        const string excluded = """
            http:
              middlewares:
                c:
                  compress:
                    excludedContentTypes: [text/plain]
                    minResponseBodyBytes: 10
            """;
        Assert.Equal("", (await SendAsync(excluded, Answer(200, Large, "TEXT/PLAIN; charset=utf-8"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());
        Assert.Equal("gzip", (await SendAsync(excluded, Answer(200, "0123456789abc", "application/json"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());
        Assert.Equal("", (await SendAsync(Documented, Answer(200, Large, "application/grpc"), ("Accept-Encoding", "gzip"))).Response.Headers.ContentEncoding.ToString());
    }

    [Fact]
    public async Task An_event_stream_is_never_compressed_nor_held_back()
    {
        var outer = new MemoryStream();
        long atFlush = -1;
        var http = Request(headers: ("Accept-Encoding", "gzip"));
        http.Response.Body = outer;
        await Build(Documented)(async h =>
        {
            h.Response.ContentType = "text/event-stream";
            await h.Response.WriteAsync("data: one\n\n");
            await h.Response.Body.FlushAsync();
            atFlush = outer.Length;
            await h.Response.WriteAsync(Large);
        })(http);
        Assert.Equal(11, atFlush);
        Assert.Equal("", http.Response.Headers.ContentEncoding.ToString());
        Assert.Equal("data: one\n\n" + Large, Encoding.UTF8.GetString(outer.ToArray()));
    }

    [Fact]
    public async Task A_flush_under_the_minimum_sends_what_was_held_uncompressed_and_a_large_answer_is_compressed_whole()
    {
        var outer = new MemoryStream();
        long atFlush = -1;
        var http = Request(headers: ("Accept-Encoding", "gzip"));
        http.Response.Body = outer;
        await Build(Documented)(async h =>
        {
            h.Response.ContentType = "application/x-ndjson";
            await h.Response.Body.WriteAsync("{\"chunk\":1}\n"u8.ToArray());
            await h.Response.Body.FlushAsync();
            atFlush = outer.Length;
            await h.Response.Body.WriteAsync("{\"chunk\":2}\n"u8.ToArray());
        })(http);
        Assert.Equal(12, atFlush);
        Assert.Equal("", http.Response.Headers.ContentEncoding.ToString());
        Assert.Equal("{\"chunk\":1}\n{\"chunk\":2}\n", Encoding.UTF8.GetString(outer.ToArray()));

        // Written in pieces without flushing (as a proxied body is), a large answer is compressed from its first byte.
        var large = Request(headers: ("Accept-Encoding", "gzip"));
        await Build(Documented)(async h =>
        {
            h.Response.ContentType = "application/json";
            foreach (var piece in Large.Chunk(100)) await h.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(piece));
        })(large);
        Assert.Equal("gzip", large.Response.Headers.ContentEncoding.ToString());
        Assert.Equal(Large, Decode("gzip", BodyBytes(large)));
    }

    [Fact]
    public async Task An_untyped_body_gets_its_sniffed_content_type()
    {
        var html = "<!DOCTYPE html><html><body>" + Large + "</body></html>";
        var http = await SendAsync(Documented, Answer(200, html, contentType: null), ("Accept-Encoding", "gzip"));
        Assert.Equal("text/html; charset=utf-8", http.Response.ContentType);
        Assert.Equal(html, Decode("gzip", BodyBytes(http)));
    }

    [Theory]
    [InlineData("excludedContentTypes: [text/plain]\nincludedContentTypes: [text/html]", "mutually exclusive")]
    [InlineData("encodings: [gzip, deflate]", "unsupported encoding 'deflate'")]
    [InlineData("encodings: [gzip]\ndefaultEncoding: br", "unsupported default encoding 'br'")]
    [InlineData("encodings: []", "at least one encoding")]
    [InlineData("excludedContentTypes: [\"not a type\"]", "is not a media type")]
    public void Options_traefik_refuses_are_errors(string options, string expected)
    {
        var indented = string.Join("\n", options.Split('\n').Select(line => "        " + line));
        var (built, errors) = TryBuild($"http:\n  middlewares:\n    c:\n      compress:\n{indented}\n");
        Assert.Null(built);
        Assert.Contains(errors, e => e.Contains(expected));
    }

    [Fact]
    public void Accept_encoding_is_chosen_as_traefik_chooses()
    {
        ImmutableArray<string> encodings = ["gzip", "br", "zstd"];
        Assert.Equal("br", AcceptEncoding.Choose(["gzip;q=0.8", "br;q=0.9"], encodings, ""));
        Assert.Equal("identity", AcceptEncoding.Choose(["identity, gzip;q=0.5"], ["zstd"], ""));
        Assert.Equal("gzip", AcceptEncoding.Choose(["br;q=0.2, *;q=0.5"], encodings, ""));
        Assert.Equal("not_acceptable", AcceptEncoding.Choose(["deflate"], encodings, ""));
    }

    [Theory]
    [InlineData("<!DOCTYPE HTML><p>x</p>", "text/html; charset=utf-8")]
    [InlineData("  <?xml version=\"1.0\"?><a/>", "text/xml; charset=utf-8")]
    [InlineData("%PDF-1.7", "application/pdf")]
    [InlineData("{\"json\":true}", "text/plain; charset=utf-8")]
    [InlineData("\u0001\u0002binary", "application/octet-stream")]
    public void Sniffing_follows_the_whatwg_rules(string body, string expected) => Assert.Equal(expected, ContentSniffer.Detect(body));
}
