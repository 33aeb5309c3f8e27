using System.Text.Json.Nodes;

namespace AgenticGateway.Tests.Translation;

/// <summary>Comparisons for the translation golden fixtures: JSON by meaning (the clock's <c>created</c> blanked), SSE event by event.</summary>
internal static class GoldenAssert
{
    public static void Json(string expected, string actual, string what)
    {
        var e = Blank(JsonNode.Parse(expected));
        var a = Blank(JsonNode.Parse(actual));
        Assert.True(JsonNode.DeepEquals(e, a), $"{what} differs.\nexpected: {e?.ToJsonString()}\nactual:   {a?.ToJsonString()}");
    }

    public static void Stream(string expected, string actual)
    {
        var e = Events(expected);
        var a = Events(actual);
        for (var i = 0; i < Math.Min(e.Count, a.Count); i++)
        {
            if (e[i] == "[DONE]" || a[i] == "[DONE]") Assert.Equal(e[i], a[i]);
            else Json(e[i], a[i], $"stream event {i}");
        }
        Assert.Equal(e.Count, a.Count);
    }

    private static List<string> Events(string sse)
    {
        var events = new List<string>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", block, StringComparison.Ordinal);
            events.Add(block["data: ".Length..]);
        }
        Assert.True(sse.Length == 0 || sse.EndsWith("\n\n", StringComparison.Ordinal), "SSE output must end with a blank line");
        return events;
    }

    private static JsonNode? Blank(JsonNode? node)
    {
        if (node is JsonObject o && o.ContainsKey("created")) o["created"] = 0;
        return node;
    }
}
