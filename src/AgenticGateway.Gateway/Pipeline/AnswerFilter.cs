using System.Buffers;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline;

/// <summary>
/// A check on an LLM answer before the client gets it, put on the request as a feature by a middleware (the guardrail
/// middleware's post_call checks) and consulted by the LLM service's relay. Defined here, not where it is
/// implemented, so the service needs nothing of the middleware that sets it.
/// </summary>
internal interface IAnswerFilter
{
    /// <summary>
    /// A whole JSON answer in the client's format: the bytes to send (the same, or masked), or the error to send
    /// instead. Runs before the answer's spend log is written, so the log records what the client got.
    /// </summary>
    ValueTask<AnswerFiltered> FilterAsync(ReadOnlyMemory<byte> answer, CancellationToken ct);

    /// <summary>A filter for one streamed answer (a new one per attempt that starts streaming), or null to pass it through.</summary>
    IStreamAnswerFilter? ForStream();
}

/// <summary>What an <see cref="IAnswerFilter"/> made of a JSON answer: the bytes to send, or the error that replaces it.</summary>
internal readonly record struct AnswerFiltered(ReadOnlyMemory<byte> Answer, ApiError? Blocked);

/// <summary>
/// Filters a stream's complete SSE events in the client's format as they pass. It may hold text back (a match may
/// span two events) and release it later; a returned error ends the stream with an error event in the client's format.
/// </summary>
internal interface IStreamAnswerFilter
{
    /// <summary>Complete events in; the events to send now written to <paramref name="output"/>.</summary>
    ValueTask<ApiError?> FeedAsync(ReadOnlyMemory<byte> events, IBufferWriter<byte> output, CancellationToken ct);

    /// <summary>The stream ended: whatever is still held is written (before nothing: the last events were already fed).</summary>
    ValueTask<ApiError?> CompleteAsync(IBufferWriter<byte> output, CancellationToken ct);
}

/// <summary>
/// The guardrails' decisions on a request, for its spend log (LiteLLM's <c>metadata.guardrail_information</c>): a JSON
/// array, never the content. A request feature the spend recorder reads.
/// </summary>
internal interface IGuardrailInformation
{
    /// <summary>The decisions so far as a JSON array, or null when no guardrail ran.</summary>
    string? Json { get; }
}
