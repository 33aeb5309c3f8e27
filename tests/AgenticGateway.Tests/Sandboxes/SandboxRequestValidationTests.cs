using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>
/// Malformed sandbox and file requests (wrong types, text that cannot be decoded, numbers no TimeSpan holds, broken
/// uploads) get a 400 in OpenAI's shape naming the field, never a 500.
/// </summary>
[Trait("Category", "sandbox")]
public class SandboxRequestValidationTests(SandboxGatewayFixture fixture) : IClassFixture<SandboxGatewayFixture>
{
    private SandboxGateway G => fixture.Gateway;

    [Theory]
    [InlineData("""{"memory_mb":false}""", "memory_mb")]
    [InlineData("""{"memory_mb":"512"}""", "memory_mb")]
    [InlineData("""{"memory_mb":{}}""", "memory_mb")]
    [InlineData("""{"disk_mb":null}""", "disk_mb")]
    [InlineData("""{"disk_mb":[64]}""", "disk_mb")]
    [InlineData("""{"timeout":1e400}""", "timeout")]
    [InlineData("""{"cpu":true}""", "cpu")]
    public void A_create_field_of_the_wrong_type_is_refused_by_name(string json, string param)
    {
        var (spec, error) = SandboxSpec.Parse(JsonDocument.Parse(json).RootElement, new SandboxOptions());
        Assert.Null(spec);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal(param, error.Param);
    }

    private async Task<(HttpStatusCode Status, JsonElement Error)> SendAsync(HttpMethod method, string path, HttpContent content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var response = await G.Server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(text.Length > 0, $"HTTP {(int)response.StatusCode} with an empty body");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("error"));
    }

    private static ByteArrayContent Json(byte[] body) => new(body) { Headers = { ContentType = new("application/json") } };

    [Fact]
    public async Task Create_bodies_that_cannot_be_decoded_or_have_wrong_types_are_400s()
    {
        foreach (var body in new[] { """{"runtime":"\ud800"}"""u8.ToArray(), """{"metadata":{"a\udc00":"b"}}"""u8.ToArray(), [.. """{"env":{"A":"""u8, 0xff, .. "\"}}"u8] })
        {
            var (status, error) = await SendAsync(HttpMethod.Post, "/v1/sandboxes", Json(body));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("invalid_encoding", error.GetProperty("code").GetString());
        }
        var (typeStatus, typeError) = await SendAsync(HttpMethod.Post, "/v1/sandboxes", Json("""{"runtime":"python","memory_mb":false}"""u8.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, typeStatus);
        Assert.Equal("memory_mb", typeError.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Requests_on_a_sandbox_with_bad_text_numbers_or_uploads_are_400s()
    {
        var id = await G.CreateAsync();
        try
        {
            // A number no TimeSpan can hold.
            foreach (var timeout in new[] { "1e400", "1e308", "-9223372036854775809" })
            {
                var (status, error) = await SendAsync(HttpMethod.Post, $"/v1/sandboxes/{id}/timeout", Json(Encoding.ASCII.GetBytes($$"""{"timeout":{{timeout}}}""")));
                Assert.Equal(HttpStatusCode.BadRequest, status);
                Assert.Equal("timeout", error.GetProperty("param").GetString());
            }
            foreach (var (path, body) in new (string, byte[])[]
            {
                ("files/mkdir", """{"path":"\ud800"}"""u8.ToArray()),
                ("files/move", [.. """{"from":"/tmp/a","to":"/tmp/"""u8, 0xc0, 0x80, .. "\"}"u8]),
                ("execute", """{"code":"print('\udc00')"}"""u8.ToArray()),
                ("commands", """{"cmd":"echo \ud800"}"""u8.ToArray()),
            })
            {
                var (status, error) = await SendAsync(HttpMethod.Post, $"/v1/sandboxes/{id}/{path}", Json(body));
                Assert.Equal(HttpStatusCode.BadRequest, status);
                Assert.Equal("invalid_encoding", error.GetProperty("code").GetString());
            }

            // A multipart upload that ends before its closing boundary.
            var truncated = new ByteArrayContent("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello"u8.ToArray());
            truncated.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");
            var (multipartStatus, multipartError) = await SendAsync(HttpMethod.Post, $"/v1/sandboxes/{id}/files?path=/tmp", truncated);
            Assert.Equal(HttpStatusCode.BadRequest, multipartStatus);
            Assert.StartsWith("Malformed multipart body", multipartError.GetProperty("message").GetString());

            // A raw upload whose chunk size Kestrel cannot read.
            var exchange = await RawHttp.SendAsync(new Uri(G.Server.Url),
                [new(Encoding.ASCII.GetBytes($"PUT /v1/sandboxes/{id}/files?path=/tmp/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SandboxGateway.Master}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n"))],
                halfClose: false, TimeSpan.FromSeconds(30));
            var upload = Assert.Single(exchange.Responses);
            Assert.Equal(400, upload.Status);
            Assert.Equal("malformed_body", JsonDocument.Parse(upload.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        finally { await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}"); }
    }

    /// <summary>The bytes of a download are never taken for one of Kestrel's empty error responses and given a body.</summary>
    [Fact]
    public async Task A_file_that_looks_like_an_error_response_downloads_unchanged()
    {
        var id = await G.CreateAsync();
        try
        {
            var content = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
            using (var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/files?path=/tmp/fake.http") { Content = new ByteArrayContent(content) })
            {
                put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
                using var stored = await G.Server.Client.SendAsync(put);
                Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
            }
            // Twice on one connection, then a request Kestrel refuses: the downloads stay byte for byte what was stored.
            var get = $"GET /v1/sandboxes/{id}/files?path=/tmp/fake.http HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SandboxGateway.Master}\r\n\r\n";
            var exchange = await RawHttp.SendAsync(new Uri(G.Server.Url), [new(Encoding.ASCII.GetBytes(get + get + "BROKEN\r\n\r\n"))], halfClose: false, TimeSpan.FromSeconds(30));
            Assert.Equal([200, 200, 400], exchange.Responses.Select(r => r.Status));
            Assert.Equal(content, exchange.Responses[0].Body);
            Assert.Equal(content, exchange.Responses[1].Body);
        }
        finally { await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}"); }
    }
}
