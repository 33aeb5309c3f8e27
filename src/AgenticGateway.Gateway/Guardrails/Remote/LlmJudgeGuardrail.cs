using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Safety.Guardrails;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// LiteLLM's LLM API check for prompt injection (<c>prompt_injection_params.llm_api_check</c>): the texts, joined as
/// LiteLLM formats a prompt, are sent as the user message to the model group <c>llm_api_name</c> under
/// <c>llm_api_system_prompt</c>; an answer containing <c>llm_api_fail_call_string</c> refuses the request with
/// LiteLLM's "Rejected message. This is a prompt injection attack.". The judge's call goes through the LLM service
/// (routing, retries, fallbacks) and is priced and logged under the caller, with the request's id. The guardrail's
/// local heuristics (<paramref name="heuristics"/>), when on, run first: what they refuse is not sent to the judge.
/// LiteLLM runs the judge in its moderation hook, in parallel with the call; here it runs in the guardrail's modes
/// (pre_call for the callback), so a refused prompt never reaches the model.
/// </summary>
internal sealed class LlmJudgeGuardrail(GuardrailDefinition definition, LlmJudgeSettings settings, LocalGuardrail? heuristics, LlmService llm, RuntimeHolder runtimes) : IGuardrail
{
    public GuardrailDefinition Definition => definition;

    public async ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct)
    {
        if (heuristics?.Check(check.Texts) is { Action: not GuardrailAction.Allow } found) return found;
        var prompt = string.Join('\n', check.Texts.Where(t => t.Length > 0));
        if (prompt.Length == 0) return GuardrailVerdict.Allowed;
        var runtime = runtimes.Current;
        if (!runtime.Catalog.TryResolve(settings.Model, out var group))
            return new RemoteFailure($"its llm_api_name '{settings.Model}' is not a model_name of the model list", false).Verdict(definition.Name, settings.Fallback);

        var bytes = Body(settings.Model, settings.SystemPrompt, prompt);
        using var body = RequestBody.Of(bytes);
        var error = RequestReader.TryParse(body.Span, LlmOperation.ChatCompletions, out var parsed);
        if (error is not null) return new RemoteFailure(error.Message, false).Verdict(definition.Name, settings.Fallback);
        var request = new LlmRequest(runtime, LlmOperation.ChatCompletions, body, parsed, group,
            check.Caller.Identity is null ? 0 : Pricing.TokenEstimator.EstimatePromptTokens(body.Span), default);

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(settings.Timeout);
        CapturedAnswer answer;
        try
        {
            answer = await llm.CallCapturedAsync(null, request, check.Caller, check.RequestId, null, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new RemoteFailure($"the model '{settings.Model}' did not answer within {settings.Timeout.TotalSeconds:0.###} s", true).Verdict(definition.Name, settings.Fallback);
        }
        if (answer.Error is { } failed)
            return new RemoteFailure($"the model '{settings.Model}' answered {failed.Status}", failed.Status >= 500 || failed.Status == 429).Verdict(definition.Name, settings.Fallback);
        if (Content(answer.Body) is not { } content)
            return new RemoteFailure($"the answer of '{settings.Model}' has no message content", false).Verdict(definition.Name, settings.Fallback);
        return content.Contains(settings.FailCallString, StringComparison.Ordinal)
            ? new GuardrailVerdict(GuardrailAction.Block, null, PromptInjectionSettings.RejectionMessage, new Dictionary<string, int> { ["prompt_injection"] = 1 })
            : GuardrailVerdict.Allowed;
    }

    private static byte[] Body(string model, string system, string user)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            w.WriteStartObject();
            w.WriteString("role", "system");
            w.WriteString("content", system);
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("role", "user");
            w.WriteString("content", user);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The first choice's message content of a chat completion (text, or the text parts joined).</summary>
    private static string? Content(byte[] answer)
    {
        try
        {
            using var doc = JsonDocument.Parse(answer);
            if (!doc.RootElement.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0) return null;
            if (!choices[0].TryGetProperty("message", out var message) || !message.TryGetProperty("content", out var content)) return null;
            if (content.ValueKind == JsonValueKind.String) return content.GetString();
            if (content.ValueKind != JsonValueKind.Array) return null;
            return string.Concat(content.EnumerateArray().Where(p => p.ValueKind == JsonValueKind.Object && p.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                .Select(p => p.GetProperty("text").GetString()));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
