using AgenticGateway.Sandboxes;

using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// Who may call a sandbox's own endpoints (envd, the code interpreter). The SDK names the sandbox by the
/// <c>E2b-Sandbox-Id</c> header and the service by <c>E2b-Sandbox-Port</c>, and proves it may by the
/// <c>X-Access-Token</c> create and connect handed out. The gateway key is not sent on these calls: the token is the
/// credential, and it belongs to one sandbox of one owner. The code interpreter SDKs (@e2b/code-interpreter 2.8.0,
/// e2b-code-interpreter for Python) send their context calls without it, with the traffic access token instead
/// (<c>E2B-Traffic-Access-Token</c>, also handed out by create and connect), so those calls are checked by that one.
/// </summary>
internal static class E2bAccess
{
    public const string SandboxIdHeader = "E2b-Sandbox-Id", PortHeader = "E2b-Sandbox-Port", TokenHeader = "X-Access-Token",
        TrafficTokenHeader = "E2B-Traffic-Access-Token";
    /// <summary>The ports of E2B's services inside a sandbox: envd and the code interpreter.</summary>
    public const int EnvdPort = 49983, InterpreterPort = 49999;

    /// <summary>
    /// The live sandbox the request names, with its E2B record; or the error to answer: 401 without the right token,
    /// 502 for a sandbox that is not running (unknown, ended, killed or paused) and for a port we do not serve. 502 is
    /// what E2B's own proxy answers for a sandbox it does not run, and what the SDKs read as "not running"
    /// (<c>isRunning()</c> false, <c>SandboxNotFoundError</c>, a timeout error) rather than as a bad token. It tells a
    /// caller without the token that an id is unknown, as E2B's does: ids are 80 random bits, handed to their owner only.
    /// </summary>
    /// <param name="port">The service the endpoint is (<see cref="EnvdPort"/>, <see cref="InterpreterPort"/>); a request
    /// naming another port is refused. Null: any port.</param>
    /// <param name="trafficToken">The traffic access token proves it as well as the envd token does: for the code
    /// interpreter's context calls, which the SDKs send with that one only. Either must be there, and one that is
    /// there must be right.</param>
    public static (Sandbox? Sandbox, E2bSandboxRecord? Record, IResult? Error) Sandbox(HttpContext c, E2bSandboxes records, SandboxManager manager, E2bErrorShape shape,
        int? port = null, bool trafficToken = false)
    {
        var headers = c.Request.Headers;
        var id = headers[SandboxIdHeader].ToString();
        if (id.Length == 0)
            return (null, null, new E2bError(400, $"The {SandboxIdHeader} header is required: it names the sandbox (set E2B_SANDBOX_URL to this gateway's /e2b).", shape));
        if (port is { } expected && headers[PortHeader].ToString() is { Length: > 0 } asked && asked != expected.ToString(System.Globalization.CultureInfo.InvariantCulture))
            return (null, null, new E2bError(502, $"Port {SandboxHttp.Truncate(asked)} is not served for this path; the gateway serves envd on {EnvdPort} and the code interpreter on {InterpreterPort}.", shape));
        var record = records.Find(id);
        if (record is null) return (null, null, NotRunning(id, "not found (it may have timed out or been killed)", shape));
        var token = headers[TokenHeader].ToString();
        var traffic = trafficToken ? headers[TrafficTokenHeader].ToString() : "";
        var proven = token.Length > 0 || traffic.Length > 0;
        if (!proven || (token.Length > 0 && !E2bSandboxes.Matches(record, token)) || (traffic.Length > 0 && !E2bSandboxes.MatchesTraffic(record, traffic)))
            return (null, null, new E2bError(401, trafficToken
                ? $"Invalid or missing access token for this sandbox ({TokenHeader} or {TrafficTokenHeader})."
                : $"Invalid or missing access token for this sandbox ({TokenHeader}).", shape));
        var sandbox = record.State == E2bStates.Paused ? null : manager.Find(record.Owner, id);
        if (sandbox is null)
            return (null, record, record.State == E2bStates.Paused || manager.FindPaused(record.Owner, id) is not null
                ? NotRunning(id, "is paused; resume it with Sandbox.connect", shape)
                : NotRunning(id, "not found (it may have timed out or been killed)", shape));
        return (sandbox, record, null);
    }

    private static E2bError NotRunning(string id, string why, E2bErrorShape shape) => new(502, $"Sandbox {SandboxHttp.Truncate(id)} {why}.", shape) { SandboxNotRunning = true };

}
