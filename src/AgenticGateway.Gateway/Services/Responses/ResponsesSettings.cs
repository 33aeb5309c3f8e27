using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Responses;

/// <summary>The Responses API's settings from the running configuration (it reloads).</summary>
internal sealed class ResponsesSettings(RuntimeHolder runtimes)
{
    /// <summary>How long a stored response is kept (OpenAI keeps them 30 days).</summary>
    public TimeSpan StoreTtl => runtimes.Current.Options.Responses.StoreTtl;

    /// <summary>Model turns one response may take while the gateway runs its tools, before the model must answer.</summary>
    public int MaxToolIterations => runtimes.Current.Options.Responses.MaxToolIterations;
}
