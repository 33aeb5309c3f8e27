using AgenticGateway.Keys;

namespace AgenticGateway.Pipeline.Middlewares;

/// <summary>What the limit middlewares act on: an LLM call by a virtual key (the master key and JWT admins have no limits).</summary>
internal static class VirtualKeyCall
{
    public static bool Is(HttpContext context) =>
        context.Features.Get<Caller>() is { Identity: not null } && context.Features.Get<LlmRequest>() is not null;
}
