using AgenticGateway.Keys;

namespace AgenticGateway.Pipeline.Middlewares;

/// <summary>
/// What the limit middlewares act on: a billable LLM call (chat, completions, embeddings, messages; not count_tokens or
/// the model list, which call nothing) by a virtual key (the master key and JWT admins have no limits).
/// </summary>
internal static class VirtualKeyCall
{
    public static bool Is(HttpContext context) =>
        context.Route().Payload.Operation() is not null && context.Features.Get<Caller>() is { Identity: not null };
}
