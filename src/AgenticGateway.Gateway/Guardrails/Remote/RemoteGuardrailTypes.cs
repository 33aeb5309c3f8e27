using AgenticGateway.Configuration;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// The guardrails that ask another service: LiteLLM's Generic Guardrail API (the vendors' webhook), OpenAI moderation,
/// and the LLM judge of prompt injection. Chosen by the settings record the configuration reader made for the
/// definition, so a type name that maps to several guardrails (detect_prompt_injection: heuristics here, a judge
/// there) never builds one twice.
/// </summary>
internal sealed class RemoteGuardrailTypes(RemoteGuardrailHttp http, RuntimeHolder runtimes, IServiceProvider services) : IGuardrailTypes
{
    public IGuardrail? Create(GuardrailDefinition definition) => definition.Settings switch
    {
        GenericGuardrailApiSettings webhook => new WebhookGuardrail(definition, webhook, http),
        OpenAiModerationSettings moderation => new ModerationGuardrail(definition, moderation, http, runtimes),
        // The LLM service is resolved when a judge is configured: it sits above the runner in the graph of singletons.
        LlmJudgeSettings judge => new LlmJudgeGuardrail(definition, judge, services.GetRequiredService<LlmService>(), runtimes),
        _ => null,
    };
}
