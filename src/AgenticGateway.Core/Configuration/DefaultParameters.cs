using System.Collections.Frozen;

namespace AgenticGateway.Configuration;

/// <summary>One configured request parameter: its index in <see cref="DefaultParameters.Names"/> and its value as JSON text.</summary>
internal readonly record struct DefaultParameter(int Index, string Json)
{
    public string Name => DefaultParameters.Names[Index];
}

/// <summary>
/// The OpenAI request parameters a deployment may set in its config (LiteLLM passes every such <c>litellm_params</c> key
/// on to the provider). LiteLLM's router builds the call as <c>{**litellm_params, **request}</c>, so a value the client
/// sent wins and the configured one fills in only what it left out.
/// </summary>
internal static class DefaultParameters
{
    public static readonly string[] Names =
    [
        "temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "user", "response_format", "seed", "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs",
        "reasoning_effort", "service_tier",
    ];

    public static readonly FrozenDictionary<string, int> Index = Names.Select((n, i) => (n, i)).ToFrozenDictionary(p => p.n, p => p.i, StringComparer.Ordinal);

    /// <summary>Bits of parameters that stand for one another: a client's max_completion_tokens replaces a configured max_tokens.</summary>
    public static ulong Family(int index) => (MaxTokensFamily & (1UL << index)) != 0 ? MaxTokensFamily : 1UL << index;

    private static readonly ulong MaxTokensFamily = (1UL << Array.IndexOf(Names, "max_tokens")) | (1UL << Array.IndexOf(Names, "max_completion_tokens"));
}
