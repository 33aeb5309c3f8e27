using AgenticGateway.OpenAi;
using AgenticGateway.Routing;

namespace AgenticGateway.Pipeline;

/// <summary>
/// What an LLM call came to, as the steps around the service read it: the middlewares settle limits and budgets on it,
/// the request context logs it. The LLM service puts it on the request as a feature.
/// </summary>
internal interface ILlmOutcome
{
    /// <summary>The deployment whose answer the client got, once one was committed.</summary>
    Deployment? Deployment { get; }
    Usage? Usage { get; }
    long CostNanos { get; }
    int Attempts { get; }
    int Fallbacks { get; }
    /// <summary>The status the client got (0 until known).</summary>
    int Status { get; }
    /// <summary>Time the gateway itself took: everything but waiting on providers.</summary>
    double OverheadSeconds { get; }
}
