using System.Net;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// The one HTTP client of the remote guardrails (webhooks, moderation endpoints): no redirects (a guardrail's answer
/// must come from the URL configured, and a redirect could carry its key elsewhere), no cookies, answers bounded in
/// size, each call bounded by its guardrail's timeout.
/// </summary>
internal sealed class RemoteGuardrailHttp : IDisposable
{
    /// <summary>A verdict is a few hundred bytes; masked texts come back at most as long as the request's.</summary>
    public const int MaxAnswerBytes = 8 * 1024 * 1024;

    public HttpClient Client { get; } = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        AllowAutoRedirect = false,
        UseCookies = false,
    }, disposeHandler: true)
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// POSTs <paramref name="body"/> and parses the 2xx answer as JSON. Failures come back as a <see cref="RemoteFailure"/>:
    /// unreachable (no connection, a timeout, 502/503/504: LiteLLM's fail_open cases) or not (any other status, an
    /// answer that is not JSON).
    /// </summary>
    /// <param name="invoker">Another sender (a deployment's, for a moderation model of the gateway); this client by default.</param>
    public async Task<(JsonDocument? Answer, RemoteFailure? Failure)> PostJsonAsync(HttpRequestMessage request, TimeSpan timeout, CancellationToken ct, HttpMessageInvoker? invoker = null)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            using var response = await (invoker ?? Client).SendAsync(request, limit.Token);
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                return (null, new RemoteFailure($"it answered HTTP {status}", response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout));
            }
            byte[] bytes;
            try
            {
                await response.Content.LoadIntoBufferAsync(MaxAnswerBytes, limit.Token);
                bytes = await response.Content.ReadAsByteArrayAsync(limit.Token);
            }
            catch (HttpRequestException)
            {
                // It answered: an answer too long or cut short is its error, not an outage (fail_open does not apply).
                return (null, new RemoteFailure($"its answer could not be read (cut short, or over {MaxAnswerBytes} bytes)", false));
            }
            try { return (JsonDocument.Parse(bytes), null); }
            catch (JsonException) { return (null, new RemoteFailure("its answer is not JSON", false)); }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, new RemoteFailure($"it did not answer within {timeout.TotalSeconds:0.###} s", true));
        }
        catch (HttpRequestException ex)
        {
            return (null, new RemoteFailure($"it could not be reached ({ex.HttpRequestError})", true));
        }
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>Why a remote guardrail got no usable answer (never the content), and whether the service was unreachable.</summary>
internal sealed record RemoteFailure(string Why, bool Unreachable)
{
    /// <summary>
    /// The verdict a failure comes to: fail open only where the guardrail says so and the service was unreachable
    /// (LiteLLM's rule); otherwise the content is refused with a reason the caller may read.
    /// </summary>
    public GuardrailVerdict Verdict(string guardrail, UnreachableFallback fallback)
    {
        if (Unreachable && fallback == UnreachableFallback.FailOpen)
            return new GuardrailVerdict(GuardrailAction.Allow, null, null, Counts("unreachable"));
        return new GuardrailVerdict(GuardrailAction.Block, null,
            $"The guardrail '{guardrail}' could not check the content: {Why}. It fails closed, so the content is refused.", Counts(Unreachable ? "unreachable" : "error"));
    }

    private static Dictionary<string, int> Counts(string kind) => new(1) { [kind] = 1 };
}

/// <summary>Which way the texts go, in the words of LiteLLM's guardrail APIs (<c>input_type</c>).</summary>
internal static class GuardrailDirection
{
    /// <summary>"response" for what comes back (an answer, a tool result, sandbox output); "request" for the rest.</summary>
    public static string InputType(GuardrailMode mode) =>
        mode is GuardrailMode.PostCall or GuardrailMode.PostMcpCall or GuardrailMode.SandboxOutput ? "response" : "request";
}
