using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Providers.Anthropic.Inbound;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Responses;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// The Anthropic-format client side of the pipeline, for deployments that are not Anthropic: the request becomes
/// OpenAI chat once (the first time an attempt needs it), and OpenAI answers become Anthropic Messages and events.
/// </summary>
internal static class ClientFormats
{
    /// <summary>Converts the client's Anthropic request; returns the error to answer with when it cannot be converted.</summary>
    public static ApiError? ToOpenAi(LlmExchange x)
    {
        byte[] openAi;
        if (x.Responses is { } responses)
        {
            if (ResponsesToChat.Convert(responses.Request, responses.History, responses.ExtraTools, x.Request.Stream, out openAi, referencedItems: responses.ReferencedItems) is { } invalidResponses) return invalidResponses;
        }
        else if (AnthropicRequestConverter.ToOpenAi(x.Body.Span, out openAi) is { } error) return error;
        if (RequestReader.TryParse(openAi, LlmOperation.ChatCompletions, out var parsed) is { } invalid) return invalid;
        x.OpenAiBody = openAi;
        x.OpenAiRequest = parsed;
        x.HasOpenAiBody = true;
        return null;
    }

    public static byte[] ToAnthropicMessage(ReadOnlyMemory<byte> openAiCompletion, LlmExchange x) =>
        AnthropicResponseConverter.FromOpenAi(openAiCompletion, x.Request.Model);

    /// <summary>An OpenAI chat completion as the Responses API's response object (kept for the store).</summary>
    public static byte[] ToResponse(ReadOnlyMemory<byte> openAiCompletion, LlmExchange x)
    {
        var call = x.Responses!;
        var output = ChatToResponses.FromCompletion(openAiCompletion.Span);
        var response = ChatToResponses.Response(call.Request, call.Id, call.CreatedAt, output.Status, output.Output, output.Usage, null, output.IncompleteDetails);
        call.FinalResponse = response;
        return response;
    }

    /// <summary>OpenAI chat chunks as Responses API events; the last response object is kept for the store.</summary>
    public static IStreamTranslator ToResponsesStream(LlmExchange x)
    {
        var call = x.Responses!;
        var estimate = x.EstimatedPromptTokens > 0 ? x.EstimatedPromptTokens : TokenEstimator.EstimatePromptTokens(x.OpenAiBody.Span);
        var stream = new ChatToResponsesStream(call.Request, call.Id, call.CreatedAt, estimate);
        call.StreamFinal = () => stream.FinalResponse;
        // A stream the gateway ends (the upstream broke off, the key was revoked) ends as OpenAI's do: response.failed.
        call.StreamFailed = error =>
        {
            var events = new System.Buffers.ArrayBufferWriter<byte>(1024);
            stream.WriteFailed(events, error);
            return events.WrittenSpan.ToArray();
        };
        return stream;
    }

    public static IStreamTranslator ToAnthropicStream(LlmExchange x)
    {
        var estimate = x.EstimatedPromptTokens > 0 ? x.EstimatedPromptTokens : AnthropicTokenCounter.Estimate(x.Body.Span);
        return new OpenAiToAnthropicStream(x.Request.Model, AnthropicResponseConverter.MessageId("chatcmpl-" + x.RequestId), estimate);
    }
}
