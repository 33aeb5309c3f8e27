using AgenticGateway.Edge.Middlewares;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>contentType: Traefik's documented example enables detection; a type the service set is kept.</summary>
[Trait("Category", "functional")]
public sealed class ContentTypeMiddlewareTests
{
    private static RequestDelegate Writes(byte[] body, string? type = null) => async http =>
    {
        if (type is not null) http.Response.ContentType = type;
        await http.Response.Body.WriteAsync(body);
    };

    [Theory]
    [InlineData("<!DOCTYPE html><html></html>", "text/html; charset=utf-8")]
    [InlineData("  <?xml version=\"1.0\"?><a/>", "text/xml; charset=utf-8")]
    [InlineData("%PDF-1.7", "application/pdf")]
    [InlineData("just words", "text/plain; charset=utf-8")]
    public async Task TheDocumentedExampleDetectsTheType(string body, string expected)
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            # Enable auto-detection
            http:
              middlewares:
                autodetect:
                  contentType: {}
            """), Writes(System.Text.Encoding.UTF8.GetBytes(body)));
        var response = await host.Client.GetAsync("/");
        Assert.Equal(expected, response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task ATypeTheServiceSetIsKeptAndAutoDetectFalseTurnsDetectionOff()
    {
        await using var kept = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("http: {middlewares: {c: {contentType: {}}}}"),
            Writes("<html> </html>"u8.ToArray(), "application/json"));
        Assert.Equal("application/json", (await kept.Client.GetAsync("/")).Content.Headers.ContentType!.ToString());

        await using var off = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("http: {middlewares: {c: {contentType: {autoDetect: false}}}}"),
            Writes([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]));
        Assert.Null((await off.Client.GetAsync("/")).Content.Headers.ContentType);
    }
}

/// <summary>The MIME sniffing table Go's DetectContentType applies.</summary>
[Trait("Category", "unit")]
public sealed class ContentSnifferTests
{
    [Theory]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0 }, "image/png")]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0 }, "image/jpeg")]
    [InlineData(new byte[] { 0x1F, 0x8B, 0x08, 0 }, "application/x-gzip")]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50 }, "image/webp")]
    [InlineData(new byte[] { 0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x6D, 0x70, 0x34, 0x32, 0, 0, 0, 0, 0x69, 0x73, 0x6F, 0x6D, 0x6D, 0x70, 0x34, 0x32 }, "video/mp4")]
    [InlineData(new byte[] { 0x01, 0x02, 0x03 }, "application/octet-stream")]
    [InlineData(new byte[] { 0x3C, 0x42, 0x41, 0x53, 0x45, 0x3E }, "text/plain; charset=utf-8")]
    [InlineData(new byte[] { 0x3C, 0x62, 0x3E }, "text/html; charset=utf-8")]
    public void DetectsAsGoDoes(byte[] data, string expected) => Assert.Equal(expected, ContentSniffer.Detect(data));
}
