using System.Net.Http.Headers;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// LiteLLM's Generic Guardrail API, the webhook for guardrail vendors: the texts and who sent them are POSTed to
/// <c>{api_base}/beta/litellm_basic_guardrail_api</c>; the answer's <c>action</c> decides: <c>NONE</c> lets them
/// through, <c>BLOCKED</c> refuses them with <c>blocked_reason</c>, <c>GUARDRAIL_INTERVENED</c> replaces them with its
/// <c>texts</c> (same count and order). The service sees the texts, the key's hash, alias, user, team and org ids, the
/// call id and model, its own <c>x-api-key</c> and configured headers: never a client's headers or the gateway's secrets.
/// </summary>
internal sealed class WebhookGuardrail(GuardrailDefinition definition, GenericGuardrailApiSettings settings, RemoteGuardrailHttp http) : IGuardrail
{
    public GuardrailDefinition Definition => definition;

    public async ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.Endpoint) { Content = new ByteArrayContent(Payload(check)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in settings.Headers) request.Headers.TryAddWithoutValidation(name, value);
        if (settings.ApiKey is { } key) request.Headers.TryAddWithoutValidation("x-api-key", key);

        var (answer, failure) = await http.PostJsonAsync(request, settings.Timeout, ct);
        if (failure is not null) return failure.Verdict(definition.Name, settings.Fallback);
        using (answer)
            return Read(answer!.RootElement, check.Texts) ?? new RemoteFailure("its answer does not follow the Generic Guardrail API (action NONE, BLOCKED or GUARDRAIL_INTERVENED; texts as many as sent)", false)
                .Verdict(definition.Name, settings.Fallback);
    }

    /// <summary>The request body of LiteLLM's contract (GenericGuardrailAPIRequest), written field by field.</summary>
    internal byte[] Payload(GuardrailCheck check)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("texts");
            foreach (var text in check.Texts) w.WriteStringValue(text);
            w.WriteEndArray();
            w.WriteNull("images");
            w.WriteNull("tools");
            w.WriteNull("tool_calls");
            w.WriteNull("structured_messages");
            w.WriteStartObject("request_data");
            var key = check.Caller.Key;
            WriteIf(w, "user_api_key_hash", key?.Token);
            WriteIf(w, "user_api_key_alias", key?.KeyAlias);
            WriteIf(w, "user_api_key_user_id", key?.UserId);
            WriteIf(w, "user_api_key_user_email", check.Caller.Identity?.User?.UserEmail);
            WriteIf(w, "user_api_key_team_id", key?.TeamId);
            WriteIf(w, "user_api_key_team_alias", check.Caller.Identity?.Team?.TeamAlias);
            WriteIf(w, "user_api_key_org_id", check.Caller.Identity?.Organization?.OrganizationId ?? check.Caller.Identity?.Team?.OrganizationId);
            w.WriteEndObject();
            w.WriteString("input_type", GuardrailDirection.InputType(check.Mode));
            w.WriteString("litellm_call_id", check.RequestId);
            w.WriteString("litellm_trace_id", check.RequestId);
            if (check.Model is { } model) w.WriteString("model", model);
            else w.WriteNull("model");
            w.WritePropertyName("additional_provider_specific_params");
            if (settings.AdditionalParamsJson is { } extra) w.WriteRawValue(extra, skipInputValidation: true);
            else { w.WriteStartObject(); w.WriteEndObject(); }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteIf(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    /// <summary>The verdict an answer gives, or null when it does not follow the contract.</summary>
    internal static GuardrailVerdict? Read(JsonElement root, IReadOnlyList<string> sent)
    {
        if (root.ValueKind != JsonValueKind.Object) return null;
        // LiteLLM reads a missing action as NONE.
        var action = root.TryGetProperty("action", out var a) ? a.ValueKind == JsonValueKind.String ? a.GetString() : null : "NONE";
        switch (action)
        {
            case "BLOCKED":
                var reason = root.TryGetProperty("blocked_reason", out var r) && r.ValueKind == JsonValueKind.String && r.GetString() is { Length: > 0 } text ? text : "Content violates policy";
                return new GuardrailVerdict(GuardrailAction.Block, null, reason, new Dictionary<string, int> { ["blocked"] = 1 });
            case "NONE" or "GUARDRAIL_INTERVENED":
                if (!root.TryGetProperty("texts", out var texts) || texts.ValueKind == JsonValueKind.Null) return GuardrailVerdict.Allowed;
                if (texts.ValueKind != JsonValueKind.Array || texts.GetArrayLength() != sent.Count) return null;
                var masked = new string[sent.Count];
                var changed = 0;
                var i = 0;
                foreach (var item in texts.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String) return null;
                    masked[i] = item.GetString()!;
                    if (!string.Equals(masked[i], sent[i], StringComparison.Ordinal)) changed++;
                    i++;
                }
                return changed == 0 ? GuardrailVerdict.Allowed : new GuardrailVerdict(GuardrailAction.Mask, masked, null, new Dictionary<string, int> { ["modified"] = changed });
            default:
                return null;
        }
    }
}
