namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>What a request does to a sandbox, read from the route's shape alone.</summary>
internal enum SandboxCallKind
{
    /// <summary>Not a call on one sandbox (a list, another API): served here.</summary>
    None,
    /// <summary>Creates a sandbox: placed on this host unless it is full.</summary>
    Create,
    /// <summary>A call on sandbox <c>Id</c>: served by the host that runs it.</summary>
    Sandbox,
}

/// <summary>
/// Which sandbox a request is for, by path and header shape only, so that the surfaces written elsewhere (the native
/// API, E2B's REST API, envd and the code interpreter) are covered without their endpoints knowing of hosts:
/// <list type="bullet">
/// <item><c>/v1/sandboxes/{id}[/...]</c>, <c>/v1/sandbox/{id}/...</c> (seed 000's paths)</item>
/// <item><c>[/e2b]/sandboxes/{id}[/...]</c>, <c>[/e2b]/v2/sandboxes/{id}/...</c> (E2B's REST API, with or without the prefix, as its own host name serves it)</item>
/// <item>any request with an <c>E2b-Sandbox-Id</c> header (envd's /process.Process/*, /filesystem.Filesystem/*, /files, and the code interpreter's /execute, /contexts)</item>
/// <item>creates: POST /v1/sandboxes, /v1/sandbox/create, [/e2b]/sandboxes, [/e2b]/v2/sandboxes</item>
/// </list>
/// </summary>
internal static class SandboxCalls
{
    public const string E2bSandboxHeader = "E2b-Sandbox-Id";
    private const int MaxIdLength = 128;

    public static (SandboxCallKind Kind, string? Id) Classify(HttpRequest request)
    {
        if (request.Headers.TryGetValue(E2bSandboxHeader, out var header))
            return header.Count == 1 && IsId(header[0]) ? (SandboxCallKind.Sandbox, header[0]) : (SandboxCallKind.None, null);
        var path = request.Path.Value.AsSpan();
        if (path.StartsWith("/v1/sandboxes")) return Under(path["/v1/sandboxes".Length..], request.Method, createSegment: null);
        if (path.StartsWith("/v1/sandbox/")) return Under(path["/v1/sandbox".Length..], request.Method, createSegment: "create");
        if (path.StartsWith("/e2b/")) path = path["/e2b".Length..];
        if (path.StartsWith("/v2/")) path = path["/v2".Length..];
        if (path.StartsWith("/sandboxes")) return Under(path["/sandboxes".Length..], request.Method, createSegment: null);
        return (SandboxCallKind.None, null);
    }

    /// <summary><paramref name="rest"/> is what follows the collection: "", "/", "/{id}" or "/{id}/...".</summary>
    private static (SandboxCallKind, string?) Under(ReadOnlySpan<char> rest, string method, string? createSegment)
    {
        if (rest.IsEmpty || rest is "/")
            return createSegment is null && HttpMethods.IsPost(method) ? (SandboxCallKind.Create, null) : (SandboxCallKind.None, null);
        if (rest[0] != '/') return (SandboxCallKind.None, null);    // /v1/sandboxesfoo
        rest = rest[1..];
        var slash = rest.IndexOf('/');
        var segment = slash < 0 ? rest : rest[..slash];
        if (createSegment is not null && slash < 0 && segment.SequenceEqual(createSegment))
            return HttpMethods.IsPost(method) ? (SandboxCallKind.Create, null) : (SandboxCallKind.None, null);
        return IsId(segment) ? (SandboxCallKind.Sandbox, segment.ToString()) : (SandboxCallKind.None, null);
    }

    private static bool IsId(ReadOnlySpan<char> id)
    {
        // Never "." or "..": a path segment, not a name.
        if (id.IsEmpty || id.Length > MaxIdLength || id[0] == '.') return false;
        foreach (var c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        return true;
    }
}
