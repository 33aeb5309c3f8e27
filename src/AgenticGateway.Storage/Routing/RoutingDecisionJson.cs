using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.Policies;

namespace AgenticGateway.Routing;

/// <summary>
/// A routing decision in JSON: one shape for the table's columns and for <c>GET /routing/decisions</c>, so what the API
/// answers is what was stored. Candidates are <c>{index, deployment, provider, allowed, preferred, reasons}</c>.
/// </summary>
internal static class RoutingDecisionJson
{
    public static void WriteDecision(Utf8JsonWriter w, RoutingDecision d)
    {
        w.WriteStartObject();
        w.WriteString("id", d.RequestId);
        w.WriteString("created_at", d.CreatedAt.ToUniversalTime());
        w.WriteString("model_group", d.ModelGroup);
        w.WriteString("requested_model", d.RequestedModel);
        w.WriteStringOrNull("chosen_deployment", d.ChosenDeployment);
        w.WriteStringOrNull("provider", d.Provider);
        w.WriteString("decision", d.Decision);
        w.WriteStringOrNull("deciding_policy", d.DecidingPolicy);
        w.WritePropertyName("policies");
        WriteStrings(w, d.Policies);
        w.WritePropertyName("candidates");
        WriteCandidates(w, d.Candidates);
        w.WriteStringOrNull("key_alias", d.KeyAlias);
        w.WriteStringOrNull("team_id", d.TeamId);
        w.WriteStringOrNull("user_id", d.UserId);
        w.WriteBoolean("dry_run", d.DryRun);
        w.WriteNumber("latency_us", d.EvaluationMicros);
        w.WriteEndObject();
    }

    public static void WriteStrings(Utf8JsonWriter w, ImmutableArray<string> values)
    {
        w.WriteStartArray();
        if (!values.IsDefault)
        {
            foreach (var v in values) w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }

    public static void WriteCandidates(Utf8JsonWriter w, ImmutableArray<CandidateVerdict> candidates)
    {
        w.WriteStartArray();
        if (!candidates.IsDefault)
        {
            foreach (var v in candidates)
            {
                w.WriteStartObject();
                w.WriteNumber("index", v.Index);
                w.WriteString("deployment", v.Deployment);
                w.WriteString("provider", v.Provider);
                w.WriteBoolean("allowed", v.Allowed);
                w.WriteBoolean("preferred", v.Preferred);
                w.WritePropertyName("reasons");
                WriteStrings(w, v.Reasons);
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
    }
}
