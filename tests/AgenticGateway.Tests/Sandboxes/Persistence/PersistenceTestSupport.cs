using System.Net;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>What the persistence tests share: calls by status, the state directory, and waiting on a condition.</summary>
internal static class PersistenceTestSupport
{
    /// <summary>Where a gateway on <paramref name="dataDirectory"/> keeps a paused sandbox's or a snapshot's files.</summary>
    public static string StateDirectory(string dataDirectory, string kind, string id) =>
        Path.Join(dataDirectory, "sandbox-state", kind == "paused" ? "paused" : "snapshots", id);

    public static async Task<JsonElement> ExpectAsync(SandboxGateway g, HttpMethod method, string path, HttpStatusCode expected, string? json = null, string key = SandboxGateway.Master)
    {
        var (status, body) = await g.SendAsync(method, path, json ?? (method == HttpMethod.Post ? "{}" : null), key);
        Assert.True(status == expected, $"{method} {path}: expected {expected}, got {status}: {body}");
        return body;
    }

    public static string ErrorCode(JsonElement body) => body.GetProperty("error").GetProperty("code").GetString()!;

    public static string ErrorMessage(JsonElement body) => body.GetProperty("error").GetProperty("message").GetString()!;

    /// <summary>Runs a shell command and returns its stdout (asserting exit code 0).</summary>
    public static async Task<string> ShellAsync(SandboxGateway g, string id, string cmd, string key = SandboxGateway.Master)
    {
        var result = await ExpectAsync(g, HttpMethod.Post, $"/v1/sandboxes/{id}/commands", HttpStatusCode.OK, JsonSerializer.Serialize(new Dictionary<string, string> { ["cmd"] = cmd }), key);
        Assert.True(result.GetProperty("exit_code").GetInt32() == 0, $"{cmd}: {result}");
        return result.GetProperty("stdout").GetString()!;
    }

    public static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }

    public static void FlipByte(string file, long offset)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var b = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(b ^ 0x01));
    }
}
