using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// A tool call's arguments as the HTTP request its operation describes. Path values are escaped whole (a '/' cannot
/// reach another path) and '.' or '..' are refused; query names and values are encoded; arrays and objects follow the
/// parameter's style (form/explode for queries, comma lists for paths and headers). Bad arguments are a message for
/// the model (the spec's input validation error, <c>isError</c>), not a protocol error.
/// </summary>
internal static class OpenApiRequest
{
    public static HttpRequestMessage? Build(OpenApiOperation operation, Uri baseUrl, IReadOnlyDictionary<string, JsonElement>? arguments, out string? error)
    {
        error = null;
        var missing = new List<string>();
        var path = new StringBuilder(operation.PathTemplate);
        var query = new StringBuilder();
        var headers = new List<KeyValuePair<string, string>>();
        var cookies = new List<string>();
        foreach (var parameter in operation.Parameters)
        {
            if (arguments is null || !arguments.TryGetValue(parameter.Property, out var value) || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
            {
                if (parameter.Required) missing.Add(parameter.Property);
                continue;
            }
            switch (parameter.In)
            {
                case ParameterLocation.Path:
                    var segment = Simple(value);
                    if (segment is "" or "." or "..")
                    {
                        error = $"Argument '{parameter.Property}' is a path segment and may not be empty, '.' or '..'.";
                        return null;
                    }
                    path.Replace("{" + parameter.Name + "}", Uri.EscapeDataString(segment));
                    break;
                case ParameterLocation.Query:
                    foreach (var (name, text) in Form(parameter.Name, value, parameter.Explode))
                        query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(text));
                    break;
                case ParameterLocation.Header:
                    var header = Simple(value);
                    if (header.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
                    {
                        error = $"Argument '{parameter.Property}' is a header and may not contain line breaks.";
                        return null;
                    }
                    headers.Add(new(parameter.Name, header));
                    break;
                case ParameterLocation.Cookie:
                    foreach (var (name, text) in Form(parameter.Name, value, parameter.Explode))
                        cookies.Add($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(text)}");
                    break;
            }
        }

        HttpContent? content = null;
        if (operation.Body is { } body)
        {
            if (arguments is not null && arguments.TryGetValue(OpenApiBody.Property, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
            {
                content = Content(body, value, out error);
                if (content is null) return null;
            }
            else if (body.Required) missing.Add(OpenApiBody.Property);
        }
        if (missing.Count > 0)
        {
            content?.Dispose();
            error = $"Missing required argument{(missing.Count > 1 ? "s" : "")}: {string.Join(", ", missing)}.";
            return null;
        }

        var url = new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + path + query);
        var request = new HttpRequestMessage(operation.Method, url) { Content = content };
        foreach (var (name, text) in headers) request.Headers.TryAddWithoutValidation(name, text);
        if (cookies.Count > 0) request.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", cookies));
        return request;
    }

    private static HttpContent? Content(OpenApiBody body, JsonElement value, out string? error)
    {
        error = null;
        switch (body.Encoding)
        {
            case BodyEncoding.Json:
                var json = value.GetRawText();
                // Models often send a JSON body as a string of JSON (LiteLLM parses it too); a body that is a string by
                // its schema is sent as the JSON string it is.
                if (value.ValueKind == JsonValueKind.String && !body.SchemaIsString && LooksLikeJson(value.GetString()!))
                    json = value.GetString()!;
                return new StringContent(json, Encoding.UTF8, MediaTypeHeaderValue.Parse(body.MediaType).MediaType!);
            case BodyEncoding.Form:
                if (value.ValueKind != JsonValueKind.Object)
                {
                    error = $"Argument '{OpenApiBody.Property}' must be an object of form fields.";
                    return null;
                }
                var fields = value.EnumerateObject().SelectMany(p => Form(p.Name, p.Value, explode: true)).Select(f => new KeyValuePair<string, string>(f.Name, f.Text));
                return new FormUrlEncodedContent(fields);
            default:
                return new StringContent(value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText(), Encoding.UTF8, "text/plain");
        }
    }

    private static bool LooksLikeJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The simple style: a scalar as text, an array as a comma list, an object as key,value pairs.</summary>
    private static string Simple(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => string.Join(',', value.EnumerateArray().Select(Scalar)),
        JsonValueKind.Object => string.Join(',', value.EnumerateObject().SelectMany(p => new[] { p.Name, Scalar(p.Value) })),
        _ => Scalar(value),
    };

    /// <summary>The form style: an exploded array repeats the name, an exploded object gives one pair per property.</summary>
    private static IEnumerable<(string Name, string Text)> Form(string name, JsonElement value, bool explode)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array when explode:
                foreach (var item in value.EnumerateArray()) yield return (name, Scalar(item));
                break;
            case JsonValueKind.Object when explode:
                foreach (var property in value.EnumerateObject()) yield return (property.Name, Scalar(property.Value));
                break;
            default:
                yield return (name, Simple(value));
                break;
        }
    }

    private static string Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };
}
