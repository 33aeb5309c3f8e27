using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Api;

/// <summary>Which error shape a 4xx may have: by the route, or either one where Kestrel may refuse before routing.</summary>
internal enum Shape { OpenAi, Anthropic, Either }

/// <summary>One generated request: the bytes to write (with pauses), and what its answers may be.</summary>
internal sealed record FuzzCase(int Index, string Kind, IReadOnlyList<RawHttp.Part> Parts, bool HalfClose, Shape Shape, TimeSpan Timeout)
{
    /// <summary>The client spoke HTTP/2 (its preface): the answer is binary framing.</summary>
    public bool AllowsHttp2 { get; init; }
    public bool CreatesSandbox { get; init; }
    /// <summary>HEAD requests: their answers carry no body.</summary>
    public bool Head { get; init; }

    public byte[] Bytes => Parts.SelectMany(p => p.Bytes).ToArray();
}

/// <summary>The names a generated request refers to: keys, and the sandboxes set up for the run.</summary>
internal sealed record FuzzTargets(string MasterKey, string VirtualKey, string Sandbox, string TimeoutSandbox);

/// <summary>
/// Generates malformed requests, deterministically from a seed (the same index gives the same bytes), over the LLM,
/// key, team, user, spend, sandbox and file APIs: mutated JSON (bytes flipped, truncation, invalid UTF-8, unpaired
/// surrogate escapes, every field of a valid request given each wrong type, huge numbers, deep nesting, duplicate
/// keys), wrong content types and headers, broken framing (chunk sizes, truncated bodies, Content-Length mismatches,
/// stalls) and broken HTTP (garbage and oversized request lines, oversized headers, bad methods and versions, HTTP/1.0,
/// pipelining).
/// </summary>
internal sealed class MalformedRequests(int seed, FuzzTargets t)
{
    private static readonly TimeSpan Normal = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Stalled = TimeSpan.FromSeconds(30);

    private enum Auth { Llm, Master }

    private sealed record Target(string Method, string Path, string Seed, Auth Auth, bool CreatesSandbox = false)
    {
        public Shape Shape => Path.StartsWith("/v1/messages", StringComparison.Ordinal) ? Shape.Anthropic : Shape.OpenAi;
    }

    private IReadOnlyList<Target> JsonTargets { get; } =
    [
        new("POST", "/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":16,"max_completion_tokens":16,"temperature":0.2,"top_p":1,"n":1,"stream":false,"stop":["\n\n"],"user":"u1","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],"tool_choice":"auto","response_format":{"type":"text"},"seed":7}""", Auth.Llm),
        new("POST", "/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""", Auth.Llm),
        new("POST", "/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", Auth.Llm),
        new("POST", "/v1/completions", """{"model":"gpt-4o","prompt":["say hi"],"max_tokens":8,"temperature":0,"echo":false,"suffix":null}""", Auth.Llm),
        new("POST", "/v1/embeddings", """{"model":"gpt-4o","input":["a","b"],"encoding_format":"float","dimensions":8,"user":"u"}""", Auth.Llm),
        new("POST", "/v1/messages", """{"model":"gpt-4o","max_tokens":32,"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"sig"},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok"}]},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"doc"}]}}]}],"thinking":{"type":"enabled","budget_tokens":1024},"tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"stop_sequences":["x"],"metadata":{"user_id":"u"},"temperature":1,"stream":false,"output_format":{"type":"json_schema","schema":{"type":"object"}}}""", Auth.Llm),
        new("POST", "/v1/messages", """{"model":"gpt-4o","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"stream":true,"output_config":{"effort":"low"}}""", Auth.Llm),
        new("POST", "/v1/responses", """{"model":"gpt-4o","instructions":"be brief","input":[{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c1","output":"ok"},{"type":"item_reference","id":"msg_fuzz"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{}},"strict":false},{"type":"mcp","server_label":"nope","require_approval":{"never":{"tool_names":["x"]}},"allowed_tools":{"tool_names":["x"],"read_only":true}}],"tool_choice":{"type":"function","name":"f"},"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":true}},"reasoning":{"effort":"low","summary":"auto"},"metadata":{"a":"b"},"max_output_tokens":32,"truncation":"auto","include":["message.output_text.logprobs"],"parallel_tool_calls":false,"store":true,"previous_response_id":"resp_fuzz"}""", Auth.Llm),
        new("POST", "/v1/responses", """{"model":"gpt-4o","input":"hi","stream":true,"background":false,"temperature":0.5,"top_p":1,"user":"u"}""", Auth.Llm),
        new("POST", "/v1/messages/count_tokens", """{"model":"gpt-4o","system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}""", Auth.Llm),
        new("POST", "/key/generate", """{"models":["gpt-4o"],"max_budget":1.5,"duration":"1h","metadata":{"a":"b"},"rpm_limit":10,"tpm_limit":1000,"budget_duration":"30d","max_parallel_requests":2,"tags":["t"],"blocked":false}""", Auth.Master),
        new("POST", "/key/update", """{"key":"sk-fuzz-nonexistent","max_budget":2,"models":["gpt-4o"],"metadata":{"x":1},"duration":"2h"}""", Auth.Master),
        new("POST", "/key/delete", """{"keys":["sk-fuzz-nonexistent"],"key_aliases":["fuzz-nope"]}""", Auth.Master),
        new("POST", "/key/block", """{"key":"sk-fuzz-nonexistent"}""", Auth.Master),
        new("POST", "/key/unblock", """{"key":"sk-fuzz-nonexistent"}""", Auth.Master),
        new("POST", "/key/regenerate", """{"key":"sk-fuzz-nonexistent","max_budget":3}""", Auth.Master),
        new("POST", "/team/new", """{"team_alias":"fz","models":["gpt-4o"],"max_budget":10,"rpm_limit":5,"tpm_limit":50,"members_with_roles":[{"role":"user","user_id":"fz-u"}],"metadata":{"a":"b"},"budget_duration":"1mo","blocked":false}""", Auth.Master),
        new("POST", "/team/update", """{"team_id":"fz-team-nope","max_budget":20,"models":[]}""", Auth.Master),
        new("POST", "/team/delete", """{"team_ids":["fz-team-nope"]}""", Auth.Master),
        new("POST", "/team/member_add", """{"team_id":"fz-team-nope","member":[{"role":"user","user_id":"u"}],"max_budget_in_team":1}""", Auth.Master),
        new("POST", "/team/member_delete", """{"team_id":"fz-team-nope","user_id":"u"}""", Auth.Master),
        new("POST", "/team/member_update", """{"team_id":"fz-team-nope","user_id":"u","max_budget_in_team":1,"role":"admin"}""", Auth.Master),
        new("POST", "/organization/new", """{"organization_alias":"fz","models":["gpt-4o"],"max_budget":10,"budget_duration":"30d","rpm_limit":5,"metadata":{"a":"b"}}""", Auth.Master),
        new("PATCH", "/organization/update", """{"organization_id":"fz-org-nope","organization_alias":"fz2","max_budget":20,"models":[]}""", Auth.Master),
        new("DELETE", "/organization/delete", """{"organization_ids":["fz-org-nope"]}""", Auth.Master),
        new("POST", "/organization/member_add", """{"organization_id":"fz-org-nope","member":[{"role":"internal_user","user_id":"u"}],"max_budget_in_organization":1}""", Auth.Master),
        new("POST", "/user/new", """{"user_id":"fz-user","user_email":"a@b.c","max_budget":5,"models":["gpt-4o"],"user_role":"internal_user","metadata":{}}""", Auth.Master),
        new("POST", "/user/update", """{"user_id":"fz-user-nope","max_budget":6,"models":["gpt-4o"]}""", Auth.Master),
        new("POST", "/user/delete", """{"user_ids":["fz-user-nope"]}""", Auth.Master),
        new("POST", "/v1/sandboxes", """{"runtime":"python","timeout":60,"memory_mb":128,"cpu":0.5,"disk_mb":64,"metadata":{"purpose":"fuzz"},"env":{"FUZZ":"1"},"network":"none"}""", Auth.Master, CreatesSandbox: true),
        new("POST", "/v1/sandbox/create", """{"template":"python","timeout":30,"envs":{"A":"b"}}""", Auth.Master, CreatesSandbox: true),
        new("POST", "/v1/sandboxes/{S}/execute", """{"code":"print(1+1)","language":"python","timeout":20,"env":{"A":"b"}}""", Auth.Master),
        new("POST", "/v1/sandbox/{S}/execute", """{"code":"echo hi","language":"bash","timeout":20}""", Auth.Master),
        new("POST", "/v1/sandboxes/{S}/commands", """{"cmd":"echo hi","timeout":10,"cwd":"/tmp","env":{"A":"b"}}""", Auth.Master),
        new("POST", "/v1/sandboxes/{S}/files/mkdir", """{"path":"/tmp/fz/dir"}""", Auth.Master),
        new("POST", "/v1/sandboxes/{S}/files/move", """{"from":"/tmp/fz/nope","to":"/tmp/fz/nope2"}""", Auth.Master),
        new("POST", "/v1/sandboxes/{T}/timeout", """{"timeout":900}""", Auth.Master),
    ];

    private static readonly string[] QueryTargets =
    [
        "/key/info?key=", "/key/list?page=1&size=", "/key/list?page=", "/team/info?team_id=", "/team/list?x=", "/user/info?user_id=",
        "/organization/info?organization_id=", "/organization/list?x=",
        "/spend/logs?start_date=", "/spend/logs?api_key=", "/global/spend/report?group_by=team&start_date=", "/audit/logs?limit=",
        "/v1/usage?start_date=", "/model/info?model=", "/v1/models/", "/v1/sandboxes?metadata=", "/v1/sandboxes?metadata.purpose=",
        "/v1/sandboxes/", "/v1/sandboxes/{S}/files/list?path=", "/v1/sandboxes/{S}/files/list?path=/tmp&depth=",
        "/v1/sandboxes/{S}/files?path=", "/v1/sandboxes/{S}/files/stat?path=", "/v1/sandboxes/{S}/processes/", "/health?",
    ];

    private static readonly string[] QueryValues =
    [
        "", "%00", "%ff%fe", "%ed%a0%80", "%C0%80", "..%2f..%2fetc%2fpasswd", new string('a', 3000), "-1", "1e308", "NaN", "99999999999999999999",
        "%", "%zz", "x%20y", "%2Ftmp%2F%C3%A9", "/proc/1/environ", "/tmp/fz/nope", "2024-13-45", "0", "true", "[]", "%7B%7D",
    ];

    /// <summary>Raw JSON values to put where a field was: each wrong for most fields, some wrong for all.</summary>
    private static readonly string[] WrongValues =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e308", "-1e308", "1e400", "123456789012345678901234567890", "2147483648",
        "-9223372036854775809", "\"\"", "\"x\"", "\"\\ud800\"", "\"a\\udc00b\"", "[]", "[1,\"a\",null]", "{}", "{\"a\":{\"b\":[]}}",
        "\"" + new string('A', 5000) + "\"", "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    ];

    public FuzzCase Generate(int index)
    {
        var rng = new Random(unchecked(seed * 1_000_003 + index));
        var roll = rng.Next(1000);
        return roll switch
        {
            < 720 => JsonCase(index, rng),
            < 790 => QueryCase(index, rng),
            < 850 => FileCase(index, rng),
            < 920 => FramingCase(index, rng),
            < 990 => ProtocolCase(index, rng),
            _ => StallCase(index, rng),
        };
    }

    private string Resolve(string path) => path.Replace("{S}", t.Sandbox).Replace("{T}", t.TimeoutSandbox);

    private string KeyFor(Auth auth, Random rng) => auth == Auth.Master || rng.Next(2) == 0 ? t.MasterKey : t.VirtualKey;

    // ---- JSON bodies ----

    private FuzzCase JsonCase(int index, Random rng)
    {
        var target = JsonTargets[rng.Next(JsonTargets.Count)];
        string[] models = ["gpt-4o", "claude", "gemini", "bedrock", "gpt"];
        if (target.Auth == Auth.Llm) target = target with { Seed = target.Seed.Replace("\"gpt-4o\"", "\"" + models[rng.Next(models.Length)] + "\"") };
        var (body, mutation) = MutateJson(rng, target.Seed);
        var headers = new List<(string, byte[])> { ("Authorization", Ascii("Bearer " + KeyFor(target.Auth, rng))) };
        var shape = target.Shape;
        var kind = "json:" + mutation;
        if (rng.Next(4) == 0)
        {
            var (header, breaksParsing) = HeaderMutation(rng, target);
            headers.RemoveAll(h => h.Item1.Equals(header.Item1, StringComparison.OrdinalIgnoreCase));
            headers.Add(header);
            kind += "+header:" + header.Item1;
            if (breaksParsing) shape = Shape.Either;
        }
        else headers.Add(("Content-Type", Ascii("application/json")));
        if (target.Path.StartsWith("/v1/messages", StringComparison.Ordinal) && rng.Next(2) == 0) headers.Add(("anthropic-version", Ascii("2023-06-01")));
        var request = Request(target.Method, Resolve(target.Path), headers, body);
        return new FuzzCase(index, $"{kind} {target.Method} {target.Path}", [new(request)], false, shape, Normal) { CreatesSandbox = target.CreatesSandbox };
    }

    private (byte[] Body, string Mutation) MutateJson(Random rng, string seedJson)
    {
        var bytes = Encoding.UTF8.GetBytes(seedJson);
        switch (rng.Next(12))
        {
            case 0:
                var flipped = bytes.ToArray();
                for (var i = rng.Next(1, 4); i > 0; i--) flipped[rng.Next(flipped.Length)] = (byte)rng.Next(256);
                return (flipped, "flip");
            case 1:
                return (bytes[..rng.Next(bytes.Length)], "truncate");
            case 2:
                byte[][] invalid = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]];
                return (InsertInString(rng, bytes, invalid[rng.Next(invalid.Length)]), "invalid-utf8");
            case 3:
                string[] escapes = ["\\ud800", "a\\udc00b", "\\ud800\\u0041", "\\udbff", "\\ud800\\ud800", "\\\\ud800", "\\ud83d\\ude00", "\\uDFFF\\uD800"];
                return (InsertInString(rng, bytes, Encoding.ASCII.GetBytes(escapes[rng.Next(escapes.Length)])), "surrogate");
            case 4:
            case 5:
            case 6:
                return (Encoding.UTF8.GetBytes(ReplaceField(rng, seedJson, WrongValues[rng.Next(WrongValues.Length)])), "wrong-type");
            case 7:
                var depth = new[] { 63, 65, 129, 1000, 20000 }[rng.Next(5)];
                return (Encoding.UTF8.GetBytes(ReplaceField(rng, seedJson, new string('[', depth) + new string(']', depth))), $"nesting-{depth}");
            case 8:
                if (JsonNode.Parse(seedJson) is not JsonObject { Count: > 0 } node) return (bytes, "duplicate-key");
                var key = node.ElementAt(rng.Next(node.Count)).Key;
                var duplicate = $"{{\"{key}\":{WrongValues[rng.Next(WrongValues.Length)]},";
                return (Encoding.UTF8.GetBytes(duplicate + seedJson[1..]), "duplicate-key");
            case 9:
                string[] notObjects = ["", "null", "[]", "\"x\"", "1", "   ", "\ufeff{}", "{", "}", "{}", "{\"\":1}", "[{}]", "{}{}", "{} x", "NaN", "{'a':1}", "{\"a\":1,}", "/*c*/{}"];
                return (Encoding.UTF8.GetBytes(notObjects[rng.Next(notObjects.Length)]), "not-an-object");
            case 10:
                var junk = new byte[rng.Next(1, 300)];
                rng.NextBytes(junk);
                return (junk, "junk");
            default:
                var (once, first) = MutateJson(rng, seedJson);
                try
                {
                    // A second mutation on top, when the first still parses as text.
                    var (twice, second) = MutateJson(rng, Encoding.UTF8.GetString(once));
                    return (twice, first + "+" + second);
                }
                catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or ArgumentException) { return (once, first); }
        }
    }

    /// <summary>Puts <paramref name="raw"/> JSON in place of one field or element of the document, chosen at random.</summary>
    private static string ReplaceField(Random rng, string json, string raw)
    {
        if (JsonNode.Parse(json) is not { } root) return raw;
        var slots = new List<(JsonNode Parent, object Key)>();
        void Walk(JsonNode node)
        {
            if (node is JsonObject o)
                foreach (var (k, v) in o.ToList()) { slots.Add((o, k)); if (v is not null) Walk(v); }
            else if (node is JsonArray a)
                for (var i = 0; i < a.Count; i++) { slots.Add((a, i)); if (a[i] is { } v) Walk(v); }
        }
        Walk(root);
        if (slots.Count == 0) return raw;
        const string marker = "__FUZZ_VALUE__";
        var (parent, slot) = slots[rng.Next(slots.Count)];
        if (parent is JsonObject obj) obj[(string)slot] = marker;
        else ((JsonArray)parent)[(int)slot] = marker;
        return root.ToJsonString().Replace("\"" + marker + "\"", raw, StringComparison.Ordinal);
    }

    /// <summary>Inserts bytes just after the opening quote of a string in the document.</summary>
    private static byte[] InsertInString(Random rng, byte[] json, byte[] insert)
    {
        var quotes = Enumerable.Range(0, json.Length).Where(i => json[i] == '"').ToList();
        var at = quotes.Count == 0 ? 0 : quotes[rng.Next(quotes.Count)] + 1;
        return [.. json[..at], .. insert, .. json[at..]];
    }

    /// <summary>A header a careless or hostile client sends; whether Kestrel itself may refuse it (then before routing).</summary>
    private ((string, byte[]) Header, bool BreaksParsing) HeaderMutation(Random rng, Target target)
    {
        string[] timeouts = ["1e308", "NaN", "-1", "abc", "Infinity", "-Infinity", "", "0", "1e400", "0x10", "9999999999999999999999"];
        switch (rng.Next(9))
        {
            case 0: return (("x-agw-timeout", Ascii(timeouts[rng.Next(timeouts.Length)])), false);
            case 1: return (("x-litellm-timeout", Ascii(timeouts[rng.Next(timeouts.Length)])), false);
            case 2:
                string[] types = ["text/plain", "application/json; charset=utf-16", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/xml", "", ";;;", "application/json; charset=\"", "*/*"];
                return (("Content-Type", Ascii(types[rng.Next(types.Length)])), false);
            case 3:
                string[] auths = ["Bearer ", "Bearer", "Basic Zm9vOmJhcg==", "Bearer sk-" + new string('x', 4000), "bearer " + t.MasterKey, "Bearer  " + t.MasterKey, "Bearer " + t.MasterKey + " extra", "Token abc"];
                return (("Authorization", Ascii(auths[rng.Next(auths.Length)])), false);
            case 4: return (("Authorization", [.. Ascii("Bearer sk-"), (byte)rng.Next(0x80, 0x100), (byte)rng.Next(0x80, 0x100)]), true);
            case 5: return (("x-request-id", rng.Next(2) == 0 ? Ascii(new string('r', 600)) : [.. Ascii("id-"), 0x01, 0x7f]), true);
            case 6: return (("x-api-key", Ascii(rng.Next(2) == 0 ? "" : "sk-" + rng.Next())), false);
            case 7: return (("anthropic-version", Ascii(rng.Next(2) == 0 ? "garbage" : "2099-99-99")), false);
            default: return (("Accept", Ascii(target.Path.Contains("sandbox", StringComparison.Ordinal) ? "text/event-stream" : "application/xml")), false);
        }
    }

    // ---- queries, paths and files ----

    private FuzzCase QueryCase(int index, Random rng)
    {
        var path = Resolve(QueryTargets[rng.Next(QueryTargets.Length)]) + QueryValues[rng.Next(QueryValues.Length)];
        var method = rng.Next(10) switch { 0 => "DELETE", 1 => "HEAD", _ => "GET" };
        if (method == "DELETE" && !path.Contains("/files", StringComparison.Ordinal)) method = "GET";
        var key = path.StartsWith("/v1/models", StringComparison.Ordinal) && rng.Next(2) == 0 ? t.VirtualKey : t.MasterKey;
        var request = Request(method, path, [("Authorization", Ascii("Bearer " + key))], []);
        return new FuzzCase(index, $"query {method} {path[..Math.Min(path.Length, 80)]}", [new(request)], false, Shape.Either, Normal) { Head = method == "HEAD" };
    }

    private FuzzCase FileCase(int index, Random rng)
    {
        var auth = ("Authorization", Ascii("Bearer " + t.MasterKey));
        var baseUrl = $"/v1/sandboxes/{t.Sandbox}/files";
        if (rng.Next(3) == 0)
        {
            var content = new byte[rng.Next(0, 4096)];
            rng.NextBytes(content);
            // Some files look like the error responses Kestrel writes.
            if (rng.Next(3) == 0) content = Ascii("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            string[] paths = ["?path=/tmp/fz/f" + rng.Next(20) + ".bin", "", "?path=", "?path=%00", "?path=/etc/passwd", "?path=" + new string('p', 5000), "?path=/tmp/fz/%ff"];
            var target = baseUrl + paths[rng.Next(paths.Length)];
            return new FuzzCase(index, "file:put " + target[..Math.Min(80, target.Length)], [new(Request("PUT", target, [auth, ("Content-Type", Ascii("application/octet-stream"))], content))], false, Shape.OpenAi, Normal);
        }
        var boundary = "fzb" + rng.Next(1000);
        var parts = new StringBuilder();
        var files = rng.Next(0, 3);
        for (var i = 0; i < files; i++)
            parts.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{(rng.Next(5) == 0 ? "../../etc/x" : "m" + i + ".txt")}\"\r\nContent-Type: text/plain\r\n\r\nhello {i}\r\n");
        var complete = parts + $"--{boundary}--\r\n";
        string multipart;
        string contentType = $"multipart/form-data; boundary={boundary}";
        var variant = rng.Next(8);
        switch (variant)
        {
            case 0: multipart = complete; break;
            case 1: multipart = complete[..rng.Next(complete.Length)]; break; // truncated: no closing boundary
            case 2: multipart = parts.ToString(); break;
            case 3: multipart = complete; contentType = "multipart/form-data; boundary=other"; break;
            case 4: multipart = complete; contentType = "multipart/form-data"; break;
            case 5: multipart = $"--{boundary}\r\nX-No-Disposition: 1\r\n\r\nabc\r\n--{boundary}--\r\n"; break;
            case 6: multipart = $"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n{new string('H', 20000)}: x\r\n\r\nabc\r\n--{boundary}--\r\n"; break;
            default: multipart = $"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + new string('z', rng.Next(100)); break;
        }
        var url = baseUrl + (rng.Next(4) == 0 ? "?path=" + QueryValues[rng.Next(QueryValues.Length)] : "?path=/tmp/fz");
        var request = Request("POST", url, [auth, ("Content-Type", Ascii(contentType))], Encoding.UTF8.GetBytes(multipart));
        return new FuzzCase(index, $"file:multipart-{variant} {url[..Math.Min(80, url.Length)]}", [new(request)], false, Shape.OpenAi, Normal);
    }

    // ---- framing ----

    private FuzzCase FramingCase(int index, Random rng)
    {
        var target = JsonTargets[rng.Next(JsonTargets.Count)];
        var body = rng.Next(3) == 0 ? MutateJson(rng, target.Seed).Body : Encoding.UTF8.GetBytes(target.Seed);
        var head = $"{target.Method} {Resolve(target.Path)} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KeyFor(target.Auth, rng)}\r\nContent-Type: application/json\r\nConnection: close\r\n";
        var shape = target.Shape == Shape.Anthropic ? Shape.Either : Shape.OpenAi;
        var variant = rng.Next(14);
        byte[] Whole(string headers, byte[] payload) => [.. Ascii(head + headers + "\r\n"), .. payload];
        FuzzCase Case(string name, byte[] bytes, bool halfClose = false) =>
            new(index, $"framing:{name} {target.Method} {target.Path}", [new(bytes)], halfClose, shape, Normal) { CreatesSandbox = target.CreatesSandbox };
        switch (variant)
        {
            case 0: return Case("chunked", Whole("Transfer-Encoding: chunked\r\n", Chunked(rng, body)));
            case 1:
                string[] sizes = ["zz", "-5", "fffffffffffffffffffff", "5;ext=\"unterminated", " 5", "0x5", "", "5 5"];
                return Case("bad-chunk-size", Whole("Transfer-Encoding: chunked\r\n", [.. Ascii(sizes[rng.Next(sizes.Length)] + "\r\n"), .. body, .. Ascii("\r\n0\r\n\r\n")]));
            case 2: return Case("chunk-without-crlf", Whole("Transfer-Encoding: chunked\r\n", [.. Ascii($"{body.Length:x}\r\n"), .. body, .. Ascii("XX0\r\n\r\n")]));
            case 3: return Case("chunk-longer-than-declared", Whole("Transfer-Encoding: chunked\r\n", [.. Ascii($"{Math.Max(1, body.Length / 2):x}\r\n"), .. body, .. Ascii("\r\n0\r\n\r\n")]));
            case 4:
                // The body stops short and the client waits: Kestrel's minimum data rate ends it (408). Or the client
                // closes its side, which Kestrel takes as the client leaving: an answer may or may not get out.
                var chunked = Chunked(rng, body);
                var cut = chunked[..rng.Next(chunked.Length - 5)];
                return rng.Next(2) == 0
                    ? Case("chunked-truncated-then-close", Whole("Transfer-Encoding: chunked\r\n", cut), halfClose: true)
                    : Case("chunked-truncated", Whole("Transfer-Encoding: chunked\r\n", cut)) with { Timeout = Stalled };
            case 5: return Case("content-length-larger", Whole($"Content-Length: {body.Length + rng.Next(1, 500)}\r\n", body)) with { Timeout = Stalled };
            case 6:
                // The rest of the body becomes the start of the next request.
                return Case("content-length-smaller", Whole($"Content-Length: {rng.Next(0, body.Length)}\r\n", body));
            case 7: return Case("length-and-chunked", Whole($"Content-Length: {body.Length}\r\nTransfer-Encoding: chunked\r\n", Chunked(rng, body)));
            case 8:
                string[] codings = ["gzip", "chunked, chunked", "identity", "chunked, gzip", "x", "chunked\r\nTransfer-Encoding: gzip"];
                return Case("transfer-encoding", Whole($"Transfer-Encoding: {codings[rng.Next(codings.Length)]}\r\n", Chunked(rng, body))) with { Timeout = Stalled };
            case 9:
                string[] lengths = ["-1", "abc", "1, 2", $"{body.Length}\r\nContent-Length: {body.Length + 1}", $" {body.Length} ", "99999999999999999999999", "0x10", "1e3"];
                return Case("bad-content-length", Whole($"Content-Length: {lengths[rng.Next(lengths.Length)]}\r\n", body)) with { Timeout = Stalled };
            case 10: return Case("expect-continue", Whole($"Expect: 100-continue\r\nContent-Length: {body.Length}\r\n", body));
            case 11:
                // Over the body limit (65,536 bytes in this gateway's config): sent in full (the gateway reads up to
                // 8 MiB of it so the client sees the 413), or only declared, beyond what the gateway would read.
                if (rng.Next(2) == 0)
                {
                    var padded = body.Concat(Enumerable.Repeat((byte)' ', rng.Next(70_000, 300_000))).ToArray();
                    return Case("too-large", Whole($"Content-Length: {padded.Length}\r\n", padded));
                }
                return Case("too-large-declared", Whole($"Content-Length: {rng.Next(9_000_000, 2_000_000_000)}\r\n", body));
            case 12: return Case("no-length", Whole("", body));
            default: return Case("chunked-trailers", Whole("Transfer-Encoding: chunked\r\n", [.. Ascii($"{body.Length:x}\r\n"), .. body, .. Ascii("\r\n0\r\nX-Trailer: 1\r\nBad Trailer\r\n\r\n")]));
        }
    }

    private static byte[] Chunked(Random rng, byte[] body)
    {
        var output = new List<byte>();
        var offset = 0;
        while (offset < body.Length)
        {
            var size = Math.Min(body.Length - offset, rng.Next(1, 200));
            output.AddRange(Ascii($"{size:x}\r\n"));
            output.AddRange(body.AsSpan(offset, size).ToArray());
            output.AddRange(Ascii("\r\n"));
            offset += size;
        }
        output.AddRange(Ascii("0\r\n\r\n"));
        return output.ToArray();
    }

    // ---- the HTTP layer itself ----

    private FuzzCase ProtocolCase(int index, Random rng)
    {
        // Every request asks to close, so a request Kestrel accepts ends the exchange as one it refuses does.
        var key = $"Authorization: Bearer {t.MasterKey}\r\nConnection: close\r\n";
        var chat = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""";
        var valid = $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n{key}Content-Type: application/json\r\nContent-Length: {chat.Length}\r\n\r\n{chat}";
        FuzzCase Case(string name, string text) => Raw(name, Latin1(text));
        FuzzCase Raw(string name, byte[] bytes) => new(index, "protocol:" + name, [new(bytes)], false, Shape.Either, Normal);
        switch (rng.Next(16))
        {
            case 0:
                var junk = new byte[rng.Next(1, 300)];
                rng.NextBytes(junk);
                return Raw("junk", [.. junk, .. Ascii("\r\n\r\n")]);
            case 1: return Case("long-target", $"GET /v1/models?q={new string('a', rng.Next(9000, 20000))} HTTP/1.1\r\nHost: localhost\r\n{key}\r\n");
            case 2: return Case("long-header", $"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n{key}X-Big: {new string('b', rng.Next(33_000, 70_000))}\r\n\r\n");
            case 3: return Case("many-headers", $"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n{key}{string.Concat(Enumerable.Range(0, rng.Next(101, 300)).Select(i => $"X-H{i}: v\r\n"))}\r\n");
            case 4:
                string[] methods = ["G@T", "GET\x01", " GET", "POST\t", "\x16\x03\x01\x02\x00", "", "GE T", "ÄÖÜ", "P O S T"];
                return Case("bad-method", $"{methods[rng.Next(methods.Length)]} /v1/models HTTP/1.1\r\nHost: localhost\r\n{key}\r\n");
            case 5:
                string[] unsupported = ["HTTP/1.2", "HTTP/2.0", "HTTP/9.9", "HTTP/3.0"];
                return Case("version", $"GET /v1/models {unsupported[rng.Next(unsupported.Length)]}\r\nHost: localhost\r\n{key}\r\n");
            case 6:
                string[] broken = ["HTTP/1", "http/1.1", "HTTP/1.1x", "HTTP/01.1", "HTTQ/1.1", "HTTP/", "HTTP/1.1 extra"];
                return Case("bad-version", $"GET /v1/models {broken[rng.Next(broken.Length)]}\r\nHost: localhost\r\n{key}\r\n");
            case 7:
                // HTTP/1.0: no Host needed, no keep-alive unless asked.
                var path10 = rng.Next(2) == 0 ? "/v1/models" : "/v1/messages";
                return Case("http10", $"POST {path10} HTTP/1.0\r\n{key}Content-Length: 2\r\n\r\n{{}}");
            case 8:
                string[] hosts = ["", "Host: a\r\nHost: b\r\n", "Host: exa mple\r\n", "Host: a@b\r\n", "Host: [::1\r\n"];
                return Case("host", $"GET /v1/models HTTP/1.1\r\n{hosts[rng.Next(hosts.Length)]}{key}\r\n");
            case 9:
                string[] lines = ["NoColonHere", "Bad Name: x", " folded: continuation", "X-Ctl: a\u0001b", "X-Del: \x7f", "X-High: \xff\xfe", ": empty-name", "X-Lf: a\nb"];
                return Case("bad-header", $"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n{key}{lines[rng.Next(lines.Length)]}\r\n\r\n");
            case 10: return Case("bare-lf", $"GET /v1/models HTTP/1.1\nHost: localhost\n{key.Replace("\r\n", "\n")}\n");
            case 11:
                string[] targets = ["*", "http://localhost/v1/models", "//v1/models", "/%", "/%zz", "/v1/chat/completions/..%2f", "/v1/models/%ff", "/v1/models#frag", "/\x01", "localhost:80", "/v1/messages/%ed%a0%80"];
                string[] verbs = ["GET", "POST", "OPTIONS", "CONNECT", "TRACE", "PATCH", "PUT", "DELETE", "post"];
                return Case("target", $"{verbs[rng.Next(verbs.Length)]} {targets[rng.Next(targets.Length)]} HTTP/1.1\r\nHost: localhost\r\n{key}Content-Length: 0\r\n\r\n");
            case 12:
                string[] known = ["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/key/generate", "/team/list", "/v1/sandboxes", "/v1/models/gpt-4o", "/metrics", "/nothing.txt", "/v1/sandboxes/x/files/list", "/v1/messages/nope"];
                string[] wrongVerbs = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "HEAD", "POST"];
                var verb = wrongVerbs[rng.Next(wrongVerbs.Length)];
                return Case("method", $"{verb} {known[rng.Next(known.Length)]} HTTP/1.1\r\nHost: localhost\r\n{key}Content-Length: 0\r\n\r\n") with { Head = verb == "HEAD" };
            case 13:
                // Pipelining: a good request, a broken one, and a last one asking to close.
                var keepAlive = $"Authorization: Bearer {t.MasterKey}\r\n";
                var first = valid.Replace(key, keepAlive);
                string[] brokenOnes = ["GARBAGE\r\n\r\n", $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n{keepAlive}Content-Length: 5\r\n\r\n{{\"a\":", $"POST /key/generate HTTP/1.1\r\nHost: localhost\r\n{keepAlive}Transfer-Encoding: chunked\r\n\r\nzz\r\n", $"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n{keepAlive}Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc"];
                var last = "GET /v1/models HTTP/1.1\r\nHost: localhost\r\n" + key + "\r\n";
                return Case("pipelined", first + brokenOnes[rng.Next(brokenOnes.Length)] + last);
            case 14: return Raw("http2-preface", Ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + new string('\0', rng.Next(0, 40)))) with { AllowsHttp2 = true };
            default: return Case("empty-lines", new string('\n', rng.Next(1, 5)) + "\r\n\r\n" + valid.Replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n"));
        }
    }

    // ---- stalls ----

    private FuzzCase StallCase(int index, Random rng)
    {
        var key = $"Authorization: Bearer {t.MasterKey}\r\n";
        if (rng.Next(3) == 0)
        {
            // Headers that stop halfway: Kestrel's request headers timeout.
            var partial = $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n{key}Content-Le";
            return new FuzzCase(index, "stall:headers", [new(Ascii(partial))], false, Shape.OpenAi, Stalled);
        }
        string[] paths = ["/v1/chat/completions", "/v1/messages", "/key/generate", "/team/new", $"/v1/sandboxes/{t.Sandbox}/execute", $"/v1/sandboxes/{t.Sandbox}/files?path=/tmp/fz/stall"];
        var path = paths[rng.Next(paths.Length)];
        var method = path.Contains("/files", StringComparison.Ordinal) ? "PUT" : "POST";
        var chunked = rng.Next(2) == 0;
        var head = $"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{key}Content-Type: application/json\r\n" + (chunked ? "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"mod" : "Content-Length: 5000\r\n\r\n{\"mod");
        var shape = path.StartsWith("/v1/messages", StringComparison.Ordinal) ? Shape.Anthropic : Shape.OpenAi;
        return new FuzzCase(index, $"stall:body {method} {path}", [new(Ascii(head))], false, shape, Stalled);
    }

    // ---- helpers ----

    private static byte[] Request(string method, string target, IEnumerable<(string Name, byte[] Value)> headers, byte[] body)
    {
        var output = new List<byte>();
        output.AddRange(Ascii($"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"));
        foreach (var (name, value) in headers)
        {
            output.AddRange(Ascii(name + ": "));
            output.AddRange(value);
            output.AddRange(Ascii("\r\n"));
        }
        if (body.Length > 0 || method is "POST" or "PUT") output.AddRange(Ascii($"Content-Length: {body.Length}\r\n"));
        output.AddRange(Ascii("\r\n"));
        output.AddRange(body);
        return output.ToArray();
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>One byte per char (for request lines with bytes above 0x7f).</summary>
    private static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);
}
