using AgenticGateway.Configuration;
using AgenticGateway.Runtime;
using AgenticGateway.Safety.Guardrails;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// The guardrails that ask another service: LiteLLM's Generic Guardrail API (the vendors' webhook), OpenAI moderation,
/// and the LLM judge of prompt injection. Chosen by the settings record the configuration reader made for the
/// definition. Registered before the local types, so a prompt injection guardrail with an LLM check is built here
/// (heuristics and judge together) and one without it by the local types.
/// </summary>
internal sealed class RemoteGuardrailTypes(RemoteGuardrailHttp http, RuntimeHolder runtimes, IServiceProvider services) : IGuardrailTypes
{
    public IGuardrail? Create(GuardrailDefinition definition) => definition.Settings switch
    {
        GenericGuardrailApiSettings webhook => new WebhookGuardrail(definition, webhook, http),
        OpenAiModerationSettings moderation => new ModerationGuardrail(definition, moderation, http, runtimes),
        // detect_prompt_injection with llm_api_check: the judge, after the local heuristics when they are on. The LLM
        // service is resolved only then: it sits above the runner in the graph of singletons.
        PromptInjectionSettings injection when LlmJudgeSettings.From(injection) is { } judge => new LlmJudgeGuardrail(definition, judge,
            TextDetectors.Create(definition) is { } local ? new LocalGuardrail(definition, local) : null, services.GetRequiredService<LlmService>(), runtimes),
        _ => null,
    };
}
