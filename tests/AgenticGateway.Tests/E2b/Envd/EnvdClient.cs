using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Services.E2b;
using AgenticGateway.Tests.Sandboxes;

namespace AgenticGateway.Tests.E2b.Envd;

/// <summary>
/// A sandbox of the bubblewrap gateway made reachable as E2B's envd: created through the native API (master key), with
/// an E2B record and access token like the REST API's create gives it, and raw Connect calls as the SDK sends them
/// (E2b-Sandbox-Id, E2b-Sandbox-Port 49983, X-Access-Token).
/// </summary>
internal sealed class EnvdClient
{
    private readonly SandboxGateway _gateway;

    private EnvdClient(SandboxGateway gateway, string id, string token)
    {
        _gateway = gateway;
        Id = id;
        Token = token;
    }

    public string Id { get; }
    public string Token { get; }
    public string BaseUrl => _gateway.Server.Url + "/e2b";

    public static async Task<EnvdClient> CreateAsync(SandboxGateway gateway)
    {
        var id = await gateway.CreateAsync();
        var records = gateway.Server.Services.GetRequiredService<E2bSandboxes>();
        var token = records.TokenFor(id);
        records.Add(new E2bSandboxRecord
        {
            SandboxId = id, Owner = "admin", TemplateId = "base", AccessTokenHash = E2bSandboxes.Hash(token), StartedAt = DateTimeOffset.UtcNow,
        });
        return new EnvdClient(gateway, id, token);
    }

    public HttpRequestMessage Request(string path, HttpContent? content, string? token = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Post, BaseUrl + path) { Content = content };
        request.Headers.Add("E2b-Sandbox-Id", Id);
        request.Headers.Add("E2b-Sandbox-Port", "49983");
        request.Headers.Add("X-Access-Token", token ?? Token);
        request.Headers.Add("Connect-Protocol-Version", "1");
        return request;
    }

    /// <summary>A unary call: the status, content type and JSON body.</summary>
    public async Task<(HttpStatusCode Status, string? ContentType, JsonElement Body)> UnaryAsync(string method, string json, string? token = null,
        string contentType = "application/json")
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await _gateway.Server.Client.SendAsync(Request("/" + method, content, token));
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
    }

    /// <summary>A streaming call to its end: the HTTP status, each message, and the end-of-stream message (flag 0x02).</summary>
    public async Task<StreamResult> StreamAsync(string method, params string[] messages)
    {
        var body = new MemoryStream();
        foreach (var m in messages) body.Write(Frame(0, Encoding.UTF8.GetBytes(m)));
        return await StreamRawAsync(method, body.ToArray());
    }

    public async Task<StreamResult> StreamRawAsync(string method, byte[] body, CancellationToken cancellationToken = default)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/connect+json");
        using var response = await _gateway.Server.Client.SendAsync(Request("/" + method, content), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var result = new StreamResult(response.StatusCode, response.Content.Headers.ContentType?.MediaType);
        while (await ReadFrameAsync(stream, cancellationToken) is { } frame)
        {
            var json = JsonDocument.Parse(frame.Payload).RootElement.Clone();
            if ((frame.Flags & 0x02) != 0)
            {
                result.End = json;
                break;
            }
            result.Messages.Add(json);
        }
        return result;
    }

    public static byte[] Frame(byte flags, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    public static async Task<(byte Flags, byte[] Payload)?> ReadFrameAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var header = new byte[5];
        var got = 0;
        while (got < 5)
        {
            var n = await stream.ReadAsync(header.AsMemory(got), cancellationToken);
            if (n == 0) return got == 0 ? null : throw new InvalidDataException("the stream ended inside an envelope header");
            got += n;
        }
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await stream.ReadExactlyAsync(payload, cancellationToken);
        return (header[0], payload);
    }

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => _gateway.Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
}

/// <summary>What a streaming call answered.</summary>
internal sealed class StreamResult(HttpStatusCode status, string? contentType)
{
    public HttpStatusCode Status { get; } = status;
    public string? ContentType { get; } = contentType;
    public List<JsonElement> Messages { get; } = [];
    public JsonElement? End { get; set; }

    /// <summary>The end-of-stream error's code, or null for a clean end.</summary>
    public string? ErrorCode => End is { } e && e.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null;

    /// <summary>The bytes of every data event of a process stream, by output (stdout, stderr, pty).</summary>
    public string Output(string which) => string.Concat(Messages
        .Where(m => m.TryGetProperty("event", out var e) && e.TryGetProperty("data", out var d) && d.TryGetProperty(which, out _))
        .Select(m => Encoding.UTF8.GetString(m.GetProperty("event").GetProperty("data").GetProperty(which).GetBytesFromBase64())));
}
