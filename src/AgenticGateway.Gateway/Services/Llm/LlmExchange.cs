using System.Diagnostics;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// The LLM service's work on one request (the <see cref="LlmRequest"/> its payload step read): the attempts it made,
/// where the answer came from, and what it used and cost. A request feature: the middlewares settle limits and budgets
/// from it, and the request context step logs it.
/// </summary>
internal sealed class LlmExchange(HttpContext http, LlmRequest llm, Keys.Caller caller, string requestId, long startTimestamp) : ILlmOutcome
{
    public HttpContext Http { get; } = http;
    public GatewayRuntime Runtime { get; } = llm.Runtime;
    public LlmOperation Operation { get; } = llm.Operation;
    public RequestBody Body { get; } = llm.Body;
    public ParsedRequest Request = llm.Parsed;
    /// <summary>
    /// The request in OpenAI chat format: the client's own body, or (for an Anthropic-format client) its conversion,
    /// made once, the first time an attempt goes to a deployment that is not Anthropic.
    /// </summary>
    public ReadOnlyMemory<byte> OpenAiBody { get; set; } = llm.Body.Memory;
    public ParsedRequest OpenAiRequest = llm.Parsed;
    /// <summary>Whether <see cref="OpenAiBody"/> is ready (always for OpenAI-format clients).</summary>
    public bool HasOpenAiBody { get; set; } = llm.Operation is not (LlmOperation.Messages or LlmOperation.Responses);
    /// <summary>A Responses API request's state (its parsed request, id, history, and the answer as the client got it); null for other operations.</summary>
    public ResponsesCall? Responses { get; init; }
    public ModelGroup RequestedGroup { get; } = llm.Group;
    /// <summary>
    /// The name the current group's wildcard deployments build their upstream model from: the requested model (or an
    /// alias's target), then each fallback's configured name.
    /// </summary>
    public string GroupModel
    {
        // Looked up only when a wildcard deployment needs it.
        get => _groupModel ??= Runtime.Catalog.WildcardName(Request.Model);
        set => _groupModel = value;
    }
    private string? _groupModel;
    public string RequestId { get; } = requestId;
    public long StartTimestamp { get; } = startTimestamp;

    public int Attempts { get; set; }
    public int Retries { get; set; }
    /// <summary>The gateway added stream_options.include_usage to this attempt: the usage chunk is ours to remove.</summary>
    public bool UsageInjected { get; set; }
    /// <summary>The whole-request timeout; disarmed once a stream starts (then only the idle timeout applies).</summary>
    public CancellationTokenSource? Overall { get; set; }
    public int Fallbacks { get; set; }
    public Deployment? Deployment { get; set; }
    /// <summary>The model a wildcard deployment was asked for in the last attempt (null: the deployment's own model).</summary>
    public string? UpstreamModel { get; set; }
    public Usage? Usage { get; set; }
    /// <summary>The id of the answer the client got ("chatcmpl-..."), when the answer had one: spend logs are found by it too.</summary>
    public string? ResponseId { get; set; }
    /// <summary>Time spent waiting on providers and in retry backoff: everything that is not the gateway's own work.</summary>
    public long UpstreamTicks { get; set; }
    public double OverheadSeconds { get; set; }
    public int Status { get; set; }
    /// <summary>Stream events sent to the client: the completion charged (a token an event) when a stream is cut before its usage.</summary>
    public long StreamedEvents { get; set; }
    /// <summary>The stream reached its end (the provider closed it); false while running, or when it was cut.</summary>
    public bool StreamFinished { get; set; }
    /// <summary>When the first streamed byte went to the client (0 for non-stream responses).</summary>
    public long FirstByteTimestamp { get; set; }

    /// <summary>Who asked.</summary>
    public Keys.Caller Caller { get; } = caller;
    /// <summary>Prompt tokens estimated before the call: reserved against token limits, and the usage of last resort.</summary>
    public long EstimatedPromptTokens { get; } = llm.PromptEstimate;
    public long CostNanos { get; set; }
    /// <summary>When a running stream next checks that its caller may still be served (a timestamp of the gateway's TimeProvider; 0: not yet set).</summary>
    public long NextCallerCheck { get; set; }
    public bool SpendRecorded { get; set; }
    /// <summary>The answer came from the response cache: logged with cache_hit and no cost (no provider was called).</summary>
    public bool CacheHit { get; init; }
    /// <summary>
    /// Called once the whole answer is known and just before it is released to the client (a JSON answer; a stream
    /// is accounted when it ends): the service records the spend here, so the client only has an answer whose spend
    /// log is durable, and gets its cost in a header.
    /// </summary>
    public Func<LlmExchange, ValueTask>? BeforeAnswer { get; init; }

    public double ElapsedMs => Stopwatch.GetElapsedTime(StartTimestamp).TotalMilliseconds;
}
