using System.Buffers;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Routing;
using AgenticGateway.Configuration;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// How one attempt's answer becomes the answer the client asked for. Null (see <see cref="For"/>) when the provider
/// already speaks the client's format and the bytes pass through as they are; otherwise a provider translation
/// (provider format to OpenAI), a client conversion (OpenAI to Anthropic), or both in that order, or an Anthropic
/// pass-through that reads Anthropic's usage fields, or a rerank translation into LiteLLM's rerank answer.
/// </summary>
internal sealed class AnswerCodec
{
    private readonly IProviderTranslator? _provider;
    private readonly ProviderCall _call;
    private readonly bool _anthropicNative;
    private readonly LlmOperation _operation;
    private readonly LlmExchange _x;
    private readonly IRerankTranslator? _reranker;
    private bool _responsesNative;

    private AnswerCodec(LlmExchange x, IProviderTranslator? provider, ProviderCall call, bool anthropicNative, LlmOperation operation, IRerankTranslator? reranker = null)
    {
        _x = x;
        _provider = provider;
        _reranker = reranker;
        _call = call;
        _anthropicNative = anthropicNative;
        _operation = operation;
    }

    /// <summary>Whether a Messages request goes to this deployment as it came (Anthropic in, Anthropic out).</summary>
    public static bool IsAnthropicNative(LlmExchange x, Deployment d) =>
        x.Operation == LlmOperation.Messages && d.Provider.Wire == ProviderWire.Anthropic;

    /// <summary>Whether a Responses request goes to this deployment's own Responses API (Responses in, Responses out).</summary>
    public static bool IsResponsesNative(LlmExchange x, Deployment d) =>
        x.Operation == LlmOperation.Responses && d.ResponsesUri is not null;

    /// <summary>Whether the request goes in the client's own format (no conversion to OpenAI chat).</summary>
    public static bool IsNative(LlmExchange x, Deployment d) => IsAnthropicNative(x, d) || IsResponsesNative(x, d);

    public static AnswerCodec? For(LlmExchange x, Deployment d, ProviderCall call)
    {
        if (IsAnthropicNative(x, d)) return new AnswerCodec(x, null, call, anthropicNative: true, x.Operation);
        if (IsResponsesNative(x, d)) return new AnswerCodec(x, null, call, anthropicNative: false, x.Operation) { _responsesNative = true };
        // A rerank answer always becomes LiteLLM's shape, through the deployment's rerank translator.
        if (x.Operation == LlmOperation.Rerank) return new AnswerCodec(x, null, call, anthropicNative: false, x.Operation, d.Reranker);
        var translator = d.TranslatorFor(x.Operation);
        if (translator is null && x.Operation is not (LlmOperation.Messages or LlmOperation.Responses)) return null;
        return new AnswerCodec(x, translator, call, anthropicNative: false, x.Operation);
    }

    /// <summary>
    /// Converts a whole successful body. Throws <see cref="InvalidDataException"/> when it is not what the provider
    /// documents (the attempt then counts as an invalid response and may be retried elsewhere).
    /// </summary>
    public ReadOnlyMemory<byte> ConvertBody(ReadOnlyMemory<byte> body, out Usage? usage)
    {
        if (_anthropicNative)
        {
            if (!AnthropicNativeUsage.TryRead(body.Span, out usage)) throw new InvalidDataException("the body is not valid JSON");
            return body;
        }
        if (_responsesNative)
        {
            if (!Providers.OpenAiResponses.ResponsesNativeUsage.TryRead(body.Span, out usage)) throw new InvalidDataException("the body is not a Responses API response object");
            return _x.Responses!.FinalResponse = _x.Responses.Restore(body.Span);
        }
        if (_reranker is not null) return _reranker.TranslateRerankResponse(body, _x.Body.Memory, _call, out usage);
        ReadOnlyMemory<byte> openAi;
        if (_provider is null)
        {
            if (!UsageReader.TryRead(body.Span, out usage)) throw new InvalidDataException("the body is not valid JSON");
            openAi = body;
        }
        else
        {
            openAi = _operation == LlmOperation.Embeddings
                ? _provider.TranslateEmbeddingsResponse(body, _call, out usage)
                : _provider.TranslateChatResponse(body, _call, out usage);
        }
        return _operation switch
        {
            LlmOperation.Messages => ClientFormats.ToAnthropicMessage(openAi, _x),
            LlmOperation.Responses => ClientFormats.ToResponse(openAi, _x),
            _ => openAi,
        };
    }

    /// <summary>A decoder chain for one streamed answer.</summary>
    public IStreamTranslator CreateStream()
    {
        if (_anthropicNative) return new AnthropicUsageTap();
        if (_responsesNative)
        {
            var tap = new Providers.OpenAiResponses.ResponsesNativeTap();
            var call = _x.Responses!;
            call.StreamFinal = () => tap.FinalResponse is { } final ? call.Restore(final) : null;
            return call.NeedsRestore ? new RestoringStream(tap, call) : tap;
        }
        IStreamTranslator? provider = _provider?.CreateChatStream(_call);
        if (_operation is not (LlmOperation.Messages or LlmOperation.Responses)) return provider!;
        var client = _operation == LlmOperation.Messages ? ClientFormats.ToAnthropicStream(_x) : ClientFormats.ToResponsesStream(_x);
        return provider is null ? client : new ChainedStream(provider, client);
    }
}

/// <summary>Two stream translators in a row: the first one's output is the second one's input.</summary>
internal sealed class ChainedStream(IStreamTranslator first, IStreamTranslator second) : IStreamTranslator
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _between = new(4096);

    /// <summary>The provider's usage (the first stage reads it from the source), else what the second saw.</summary>
    public Usage? Usage => first.Usage ?? second.Usage;

    public void Feed(ReadOnlySpan<byte> data, System.Buffers.IBufferWriter<byte> output)
    {
        first.Feed(data, _between);
        Pass(output);
    }

    public void Complete(System.Buffers.IBufferWriter<byte> output)
    {
        first.Complete(_between);
        Pass(output);
        second.Complete(output);
    }

    private void Pass(System.Buffers.IBufferWriter<byte> output)
    {
        if (_between.WrittenCount == 0) return;
        second.Feed(_between.WrittenSpan, output);
        _between.ResetWrittenCount();
    }
}

/// <summary>A native Responses stream whose events get the client's <c>previous_response_id</c> and <c>store</c> back (<see cref="ResponsesCall.Restore"/>).</summary>
internal sealed class RestoringStream(IStreamTranslator tap, ResponsesCall call) : IStreamTranslator
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _events = new(4096);

    public Usage? Usage => tap.Usage;

    // The tap writes whole events, so no replaced text is ever split between two writes.
    public void Feed(ReadOnlySpan<byte> data, System.Buffers.IBufferWriter<byte> output)
    {
        tap.Feed(data, _events);
        Pass(output);
    }

    public void Complete(System.Buffers.IBufferWriter<byte> output)
    {
        tap.Complete(_events);
        Pass(output);
    }

    private void Pass(System.Buffers.IBufferWriter<byte> output)
    {
        if (_events.WrittenCount == 0) return;
        call.RestoreTo(_events.WrittenSpan, output);
        _events.ResetWrittenCount();
    }
}
