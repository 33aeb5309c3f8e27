using System.Security.Cryptography;

namespace AgenticGateway.Responses;

/// <summary>
/// Ids in OpenAI's Responses style: a type prefix and 48 lowercase hex digits (<c>resp_</c>, <c>msg_</c>, <c>fc_</c>,
/// <c>rs_</c>, <c>ci_</c>, <c>mcp_</c>, <c>mcpl_</c>, <c>mcpr_</c>). Clients treat them as opaque; the prefix only helps
/// a reader (and OpenAI's own item-type checks) tell items apart.
/// </summary>
internal static class ResponsesIds
{
    /// <summary>A new random id: <paramref name="prefix"/> (with or without its trailing <c>_</c>), then 48 hex digits.</summary>
    public static string New(string prefix)
    {
        Span<byte> random = stackalloc byte[24];
        RandomNumberGenerator.Fill(random);
        return Join(prefix, Convert.ToHexStringLower(random));
    }

    /// <summary>
    /// The id of item <paramref name="number"/> of response <paramref name="responseId"/>: the response id's random part
    /// plus the number, so items of a response are unique as long as response ids are, and a replay gives the same ids.
    /// </summary>
    public static string Item(string prefix, string responseId, int number)
    {
        var underscore = responseId.IndexOf('_', StringComparison.Ordinal);
        return Join(prefix, string.Concat(responseId.AsSpan(underscore + 1), number.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static string Join(string prefix, string body) =>
        prefix.EndsWith('_') ? prefix + body : string.Concat(prefix, "_", body);
}

/// <summary>
/// Where the item ids of one response come from: derived from the response id (stable, so a stream replays to the same
/// bytes), or random when no response id is known yet.
/// </summary>
internal sealed class ResponsesItemIds(string? responseId)
{
    private int _next;

    /// <summary>The next item id with <paramref name="prefix"/>.</summary>
    public string Next(string prefix) => responseId is null ? ResponsesIds.New(prefix) : ResponsesIds.Item(prefix, responseId, _next++);
}
