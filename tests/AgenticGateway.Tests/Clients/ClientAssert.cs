using System.Text.Json;

namespace AgenticGateway.Tests.Clients;

/// <summary>What every finished Responses object a client returns must hold.</summary>
internal static class ClientAssert
{
    /// <summary>A completed response (as the openai.mjs summary carries it): its id, object, status and usage.</summary>
    public static void CompletedResponse(JsonElement response)
    {
        Assert.StartsWith("resp_", response.GetProperty("id").GetString());
        Assert.Equal("response", response.GetProperty("object").GetString());
        Assert.Equal("completed", response.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, response.GetProperty("error").ValueKind);
        Assert.Equal(JsonValueKind.Null, response.GetProperty("incomplete_details").ValueKind);
        Assert.False(string.IsNullOrEmpty(response.GetProperty("model").GetString()));
        Assert.True(response.GetProperty("created_at").GetInt64() > 1_600_000_000);
        var usage = response.GetProperty("usage");
        var input = usage.GetProperty("input_tokens").GetInt32();
        var output = usage.GetProperty("output_tokens").GetInt32();
        Assert.True(input > 0, usage.GetRawText());
        Assert.True(output > 0, usage.GetRawText());
        Assert.Equal(input + output, usage.GetProperty("total_tokens").GetInt32());
    }
}
