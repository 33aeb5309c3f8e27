namespace AgenticGateway.Routing;

/// <summary>
/// LiteLLM's tag-based routing (router_settings.enable_tag_filtering; docs proxy/tag_routing): a request with tags goes
/// only to the deployments of its group that carry one of them (all of them with tag_filtering_match_any: false), else
/// to the group's deployments tagged "default" when the request's tags are unknown to the group; a request without tags
/// goes to the "default" deployments if there are any, else to any. When nothing matches, the request is refused
/// ("Not allowed to access model due to tags configuration").
/// </summary>
internal static class TagRouting
{
    public const string DefaultTag = "default";

    /// <summary>The deployments of <paramref name="group"/> the request may use, as a bit mask; 0 when none.</summary>
    public static ulong Eligible(ModelGroup group, IReadOnlyList<string>? requestTags, bool matchAny)
    {
        var all = group.Deployments;
        ulong defaults = 0;
        for (var i = 0; i < all.Length; i++)
        {
            if (all[i].Options.Tags.Contains(DefaultTag)) defaults |= 1UL << i;
        }
        var everyone = all.Length == 64 ? ulong.MaxValue : (1UL << all.Length) - 1;
        if (requestTags is not { Count: > 0 }) return defaults != 0 ? defaults : everyone;

        ulong matches = 0;
        var known = false;
        for (var i = 0; i < all.Length; i++)
        {
            var tags = all[i].Options.Tags;
            if (tags.IsDefaultOrEmpty) continue;
            var shared = requestTags.Count(tags.Contains);
            if (shared > 0) known = true;
            if (matchAny ? shared > 0 : requestTags.All(tags.Contains)) matches |= 1UL << i;
        }
        if (matches != 0) return matches;
        // A tag some deployment here carries but none matched (match-all) is a real refusal, not an unknown tag.
        return known ? 0 : defaults;
    }

    /// <summary>LiteLLM's refusal text (RouterErrors.no_deployments_with_tag_routing), with the model and tags it was given.</summary>
    public static string Refusal(string model, IReadOnlyList<string>? tags) =>
        $"Not allowed to access model due to tags configuration. Passed model={model} and tags=[{string.Join(", ", (tags ?? []).Select(t => $"'{t}'"))}]";
}
