using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.Metering;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Pricing;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Google;
using AgenticGateway.Runtime;
using AgenticGateway.Spend;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Services.Passthrough;

/// <summary>
/// Serves the pass-through routes: a provider's native API under its prefix (<see cref="ProviderPassthrough"/>) and
/// LiteLLM's configured <see cref="PassThroughEndpoint"/>s. The caller is identified by its gateway key (any header the
/// gateway accepts; Gemini's <c>?key=</c> and <c>x-goog-api-key</c> too, as Google's SDKs send it), counted against its
/// rpm and budgets, and charged: a provider call what its answer's usage costs at the model's price, a configured
/// endpoint its cost_per_request. The request and the answer stream through (each chunk written as it arrives; usage is
/// read from the same bytes by a <see cref="UsageScanner"/>); the client's gateway credential never goes upstream and
/// the provider's is never logged.
/// </summary>
internal sealed partial class PassthroughForwarder(HttpMessageInvoker http, ClientAuth auth, RuntimeHolder runtimes, RateLimits rateLimits, Budgets budgets,
    SpendWal wal, TimeProvider time, ILogger<PassthroughForwarder> logger)
{
    public const string CallType = "pass_through_endpoint";
    private static readonly TimeSpan ProviderTimeout = TimeSpan.FromSeconds(600);

    private readonly VertexTokenSource _vertex = new(http, time);
    private readonly SigV4Signer _signer = new();

    // Hop-by-hop headers (RFC 9110 7.6.1) and what the transport sets itself: never copied either way.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Host",
    };

    // Where a client puts its gateway key: removed before anything goes upstream.
    private static readonly string[] GatewayCredentials = ["x-litellm-api-key", "Authorization", "x-api-key", "api-key", "x-goog-api-key"];

    /// <summary>A provider's native API: <paramref name="route"/>'s prefix is stripped and the rest goes to the provider.</summary>
    public async Task ProviderAsync(HttpContext context, ProviderPassthrough route)
    {
        var runtime = runtimes.Current;
        if (route.Credential == ProviderCredential.GoogApiKey) PromoteGoogleKey(context.Request);
        var (caller, refused) = await auth.AuthenticateAsync(context.Request, runtime, context.RequestAborted);
        if (caller is null)
        {
            await PipelineErrors.WriteAsync(context, refused ?? new ApiError(401, "Authentication required.", "authentication_error", "invalid_api_key"));
            return;
        }
        context.Features.Set(caller);
        // A provider's native API is passed through unread, so the LLM guardrails cannot check it: a caller they apply to
        // is refused here rather than let through unchecked (a guardrail that silently does nothing is no guardrail).
        if (context.RequestServices.GetService<IContentGuardrails>() is { } guardrails
            && (guardrails.AnyFor(GuardrailMode.PreCall, caller) || guardrails.AnyFor(GuardrailMode.DuringCall, caller) || guardrails.AnyFor(GuardrailMode.PostCall, caller)))
        {
            await PipelineErrors.WriteAsync(context, new ApiError(403,
                $"Guardrails apply to this key, and they cannot check {route.Catalog}'s native API passed through unread: use the gateway's own routes (/v1/chat/completions, /v1/messages, /v1/responses).",
                "permission_error", "guardrails_not_applicable"));
            return;
        }
        var (apiBase, key, deployment, error) = route.Resolve(runtime, Environment.GetEnvironmentVariable);
        if (error is not null)
        {
            await PipelineErrors.WriteAsync(context, error);
            return;
        }
        var (subPath, query) = SubPath(context, route.Prefix);
        if (route.Credential == ProviderCredential.GoogApiKey) query = WithoutQueryKey(query);
        var target = ProviderPassthrough.UpstreamUri(apiBase!, subPath, query);
        await ForwardAsync(context, caller, new Upstream(target, route.Catalog, ForwardHeaders: true, StripCredentials: true, ProviderTimeout, 0m,
            (request, body, ct) => route.AuthorizeAsync(request, key, deployment, body, _vertex, _signer, time, ct), BufferBody: route.Credential == ProviderCredential.AwsSigV4));
    }

    /// <summary>One of the configured pass_through_endpoints.</summary>
    public async Task EndpointAsync(HttpContext context, PassThroughEndpoint endpoint)
    {
        var runtime = runtimes.Current;
        Caller caller = Caller.Anonymous;
        if (endpoint.Auth)
        {
            var (authenticated, refused) = await auth.AuthenticateAsync(context.Request, runtime, context.RequestAborted);
            if (authenticated is null)
            {
                await PipelineErrors.WriteAsync(context, refused ?? new ApiError(401, "Authentication required.", "authentication_error", "invalid_api_key"));
                return;
            }
            caller = authenticated;
        }
        context.Features.Set(caller);
        var (subPath, query) = SubPath(context, endpoint.Path);
        var targetPath = endpoint.Target.AbsolutePath.TrimEnd('/');
        // include_subpath: the rest of the path goes below the target; without it only the path itself is served.
        var uri = new Uri(endpoint.Target.GetLeftPart(UriPartial.Authority) + (targetPath + (endpoint.IncludeSubpath ? subPath : "")) switch { "" => "/", var p => p }
            + MergeQuery(endpoint.Target.Query, query));
        await ForwardAsync(context, caller, new Upstream(uri, "pass_through", endpoint.ForwardHeaders, StripCredentials: endpoint.Auth, endpoint.Timeout, endpoint.CostPerRequest,
            (request, _, _) =>
            {
                foreach (var (name, value) in endpoint.Headers)
                {
                    request.Headers.Remove(name);
                    if (!request.Headers.TryAddWithoutValidation(name, value.Value)) request.Content?.Headers.TryAddWithoutValidation(name, value.Value);
                }
                return ValueTask.FromResult<ApiError?>(null);
            }, BufferBody: false));
    }

    private sealed record Upstream(Uri Target, string Provider, bool ForwardHeaders, bool StripCredentials, TimeSpan Timeout, decimal CostPerRequest,
        Func<HttpRequestMessage, ReadOnlyMemory<byte>, CancellationToken, ValueTask<ApiError?>> Authorize, bool BufferBody);

    private async Task ForwardAsync(HttpContext context, Caller caller, Upstream upstream)
    {
        var start = Stopwatch.GetTimestamp();
        var ct = context.RequestAborted;
        RateLimits.Hold? rate = null;
        Budgets.Hold? budget = null;
        if (caller.Identity is not null)
        {
            var (hold, refused) = await rateLimits.AcquireAsync(caller, 0, ct);
            if (refused is not null)
            {
                await PipelineErrors.WriteAsync(context, refused);
                return;
            }
            rate = hold;
            (budget, refused) = await budgets.ReserveAsync(caller, upstream.CostPerRequest, ct);
            if (refused is not null)
            {
                if (rate is not null) await rateLimits.SettleAsync(rate, 0);
                await PipelineErrors.WriteAsync(context, refused);
                return;
            }
        }

        UsageScanner? scanner = null;
        var charged = new StrongBox<bool>();
        var status = 0;
        var streamed = false;
        string? model = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(upstream.Timeout);
            using var request = await BuildRequestAsync(context, upstream, timeout.Token);
            if (request is null) return;
            if (await upstream.Authorize(request, request.Content is ByteArrayContent ? await request.Content.ReadAsByteArrayAsync(timeout.Token) : ReadOnlyMemory<byte>.Empty, timeout.Token) is { } denied)
            {
                await PipelineErrors.WriteAsync(context, denied);
                return;
            }
            model = ModelFromPath(upstream.Target.AbsolutePath);
            HttpResponseMessage response;
            try { response = await http.SendAsync(request, timeout.Token); }
            catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                var timedOut = ex is OperationCanceledException;
                LogUpstreamFailed(logger, upstream.Target.GetLeftPart(UriPartial.Path), ex.Message);
                await PipelineErrors.WriteAsync(context, timedOut
                    ? new ApiError(504, $"The upstream did not answer within {upstream.Timeout.TotalSeconds:0} s.", "timeout", "upstream_timeout")
                    : new ApiError(502, $"The upstream could not be reached: {ex.Message}", "api_error", "upstream_unreachable"));
                return;
            }
            using (response)
            {
                status = (int)response.StatusCode;
                var answer = context.Response;
                answer.StatusCode = status;
                CopyHeaders(response.Headers, answer.Headers);
                CopyHeaders(response.Content.Headers, answer.Headers);
                var contentType = response.Content.Headers.ContentType?.ToString();
                streamed = contentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
                // Only successful answers are charged by their usage; a compressed one cannot be read (identity was asked for).
                if (status is >= 200 and < 300 && response.Content.Headers.ContentEncoding.Count == 0) scanner = UsageScanner.For(contentType);
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
                if (scanner is null || streamed) await CopyAsync(body, answer.Body, scanner, timeout.Token);
                else
                {
                    // A whole JSON answer is charged before its last bytes go out, as the LLM routes do: a client that has
                    // its answer has its spend log.
                    await CopyHoldingLastAsync(body, answer.Body, scanner, () => ChargeAsync(context, caller, upstream, scanner, model, status, streamed, rate, budget, start, charged), timeout.Token);
                }
                scanner?.Complete();
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or HttpRequestException)
        {
            // The client left or the upstream broke mid-answer: what was read so far is still charged below.
            if (!context.Response.HasStarted && !ct.IsCancellationRequested)
                await PipelineErrors.WriteAsync(context, new ApiError(502, "The upstream's answer broke off.", "api_error", "upstream_broken"));
            else scanner?.Complete();
        }
        finally
        {
            await ChargeAsync(context, caller, upstream, scanner, model, status, streamed, rate, budget, start, charged);
        }
    }

    private async Task ChargeAsync(HttpContext context, Caller caller, Upstream upstream, UsageScanner? scanner, string? pathModel, int status, bool streamed,
        RateLimits.Hold? rate, Budgets.Hold? budget, long start, StrongBox<bool> charged)
    {
        if (charged.Value) return;
        charged.Value = true;
        var usage = scanner?.Usage;
        var model = scanner?.Model ?? pathModel;
        var cost = upstream.CostPerRequest;
        if (usage is { } u && PriceOf(model, upstream.Provider) is { } price) cost += price.Cost(u);
        // A configured endpoint's price is for a request it served; a refused or failed one is not charged.
        if (usage is null && status is < 200 or >= 400) cost = 0;
        var nanos = Money.ToNanos(cost);
        if (budget is not null) await budgets.SettleAsync(budget, nanos);
        if (rate is not null) await rateLimits.SettleAsync(rate, usage?.TotalTokens ?? 0);
        if (usage is null && nanos == 0) return;
        var elapsedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        await wal.AppendAsync(SpendLog.ForCaller(caller, context.RequestId(), model ?? upstream.Target.AbsolutePath, CallType, time.GetUtcNow(), elapsedMs) with
        {
            Provider = upstream.Provider,
            PromptTokens = usage?.PromptTokens ?? 0,
            CompletionTokens = usage?.CompletionTokens ?? 0,
            CostNanos = nanos,
            Status = status,
            Stream = streamed,
        });
    }

    /// <summary>The price of a model: a configured deployment's (by its upstream or public name), else the built-in price list's.</summary>
    private ModelPrice? PriceOf(string? model, string provider)
    {
        if (model is null) return null;
        foreach (var d in runtimes.Current.AllDeployments)
            if (d.Options.Model == model || d.Options.ModelName == model) return d.PriceFor(model);
        return PriceBook.Find(model, provider) ?? PriceBook.Find(model);
    }

    private static async Task<HttpRequestMessage?> BuildRequestAsync(HttpContext context, Upstream upstream, CancellationToken ct)
    {
        var incoming = context.Request;
        var request = new HttpRequestMessage(new HttpMethod(incoming.Method), upstream.Target) { Version = System.Net.HttpVersion.Version11 };
        var hasBody = incoming.ContentLength > 0 || (incoming.ContentLength is null && incoming.Headers.TransferEncoding.Count > 0)
            || (incoming.ContentLength is null && incoming.Method is "POST" or "PUT" or "PATCH");
        if (hasBody)
        {
            if (upstream.BufferBody)
            {
                // SigV4 signs the body's hash: it is read first (bounded by the server's request size limit).
                using var copy = new MemoryStream();
                await incoming.Body.CopyToAsync(copy, ct);
                request.Content = new ByteArrayContent(copy.ToArray());
            }
            else request.Content = new StreamContent(incoming.Body);
            if (incoming.ContentLength is { } length) request.Content.Headers.ContentLength = length;
        }
        foreach (var (name, values) in incoming.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            // The answer's usage is read from its bytes: the upstream is asked for them uncompressed.
            if (name.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase)) continue;
            var isContent = name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase);
            // Without forward_headers only the body's own description goes (LiteLLM sends the configured headers alone).
            if (!upstream.ForwardHeaders && !isContent) continue;
            if (name.Equals("x-litellm-api-key", StringComparison.OrdinalIgnoreCase)) continue;
            if (upstream.StripCredentials && Array.Exists(GatewayCredentials, c => c.Equals(name, StringComparison.OrdinalIgnoreCase))) continue;
            if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) && upstream.StripCredentials) continue;
            if (isContent) request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            else request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        return request;
    }

    private static void CopyHeaders(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from)
        {
            if (HopByHop.Contains(name)) continue;
            to[name] = values.ToArray();
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, UsageScanner? scanner, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, ct)) > 0)
            {
                // Written (and so flushed by Kestrel) before it is read for usage: the client never waits on the meter.
                await to.WriteAsync(buffer.AsMemory(0, read), ct);
                scanner?.Feed(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Copies a JSON answer one read behind: each chunk goes out once the next one was read, and the last one only after
    /// <paramref name="beforeLast"/> ran (the scanner has read everything by then). Nothing more than one read is held.
    /// </summary>
    private static async Task CopyHoldingLastAsync(Stream from, Stream to, UsageScanner scanner, Func<Task> beforeLast, CancellationToken ct)
    {
        var held = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var next = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var heldLength = await from.ReadAsync(held, ct);
            while (heldLength > 0)
            {
                var read = await from.ReadAsync(next, ct);
                if (read == 0) break;
                await to.WriteAsync(held.AsMemory(0, heldLength), ct);
                scanner.Feed(held.AsSpan(0, heldLength));
                (held, next, heldLength) = (next, held, read);
            }
            scanner.Feed(held.AsSpan(0, heldLength));
            scanner.Complete();
            await beforeLast();
            if (heldLength > 0) await to.WriteAsync(held.AsMemory(0, heldLength), ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(held);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>The raw path below <paramref name="prefix"/> (percent-encoding kept, as the upstream expects it) and the query.</summary>
    internal static (string SubPath, string Query) SubPath(HttpContext context, string prefix)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/') raw = context.Request.Path.ToUriComponent() + context.Request.QueryString.ToUriComponent();
        var q = raw.IndexOf('?');
        var path = q < 0 ? raw : raw[..q];
        var query = q < 0 ? "" : raw[q..];
        var rest = path.Length >= prefix.Length && path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? path[prefix.Length..] : context.Request.Path.Value![prefix.Length..];
        return (rest, query);
    }

    private static string MergeQuery(string targetQuery, string query) =>
        targetQuery.Length == 0 ? query : query.Length == 0 ? targetQuery : targetQuery + "&" + query[1..];

    /// <summary>Google's SDKs send their key as <c>?key=</c> or <c>x-goog-api-key</c>: for the Gemini route that is the gateway key.</summary>
    private static void PromoteGoogleKey(HttpRequest request)
    {
        if (ClientAuth.PresentedKey(request) is not null) return;
        var key = request.Query["key"].ToString();
        if (key.Length == 0) key = request.Headers["x-goog-api-key"].ToString();
        if (key.Length > 0) request.Headers["x-litellm-api-key"] = key;
    }

    private static string WithoutQueryKey(string query)
    {
        if (query.Length == 0) return query;
        var kept = query[1..].Split('&').Where(p => !p.StartsWith("key=", StringComparison.Ordinal) && p != "key").ToArray();
        return kept.Length == 0 ? "" : "?" + string.Join('&', kept);
    }

    /// <summary>The model a provider path names (Gemini's <c>models/{model}:generateContent</c>, Bedrock's <c>model/{id}/converse</c>).</summary>
    internal static string? ModelFromPath(string path)
    {
        foreach (var marker in (ReadOnlySpan<string>)["/models/", "/model/"])
        {
            var at = path.LastIndexOf(marker, StringComparison.Ordinal);
            if (at < 0) continue;
            var rest = path[(at + marker.Length)..];
            var end = rest.IndexOfAny([':', '/']);
            var name = Uri.UnescapeDataString(end < 0 ? rest : rest[..end]);
            if (name.Length > 0) return name;
        }
        return null;
    }

    [LoggerMessage(1901, LogLevel.Warning, "Pass-through call to {Target} failed: {Message}")]
    private static partial void LogUpstreamFailed(ILogger logger, string target, string message);
}
