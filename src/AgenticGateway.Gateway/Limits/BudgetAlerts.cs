using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using AgenticGateway.Keys;
using AgenticGateway.Observability;
using AgenticGateway.Runtime;
using AgenticGateway.Pricing;
using AgenticGateway.Json;

namespace AgenticGateway.Limits;

/// <summary>One crossing of a budget threshold.</summary>
internal sealed record BudgetAlert(ILimitHolder Holder, double Threshold, decimal Spend, decimal MaxBudget);

/// <summary>
/// Soft-budget alerts. A settled request whose cost moves a counter across a threshold (counters are incremented
/// atomically, so exactly one request crosses each) queues one event; a background sender POSTs it to the webhook
/// in LiteLLM's webhook event shape. Off the request path: a full queue drops the oldest alert, never a request.
/// </summary>
internal sealed class BudgetAlerts(RuntimeHolder runtimes, ILogger<BudgetAlerts> logger) : BackgroundService
{
    private readonly Channel<BudgetAlert> _queue = Channel.CreateBounded<BudgetAlert>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Queues an alert for every threshold crossed by going from <paramref name="beforeNanos"/> to <paramref name="afterNanos"/>.</summary>
    public void Check(ILimitHolder holder, long beforeNanos, long afterNanos)
    {
        if (holder.Limits.MaxBudget is not { } max || max <= 0 || runtimes.Current.Options.Alerts is not { } options) return;
        var before = Money.FromNanos(beforeNanos) / max;
        var after = Money.FromNanos(afterNanos) / max;
        foreach (var t in options.BudgetThresholds)
        {
            var threshold = (decimal)t;
            if (before < threshold && after >= threshold) _queue.Writer.TryWrite(new BudgetAlert(holder, t, Money.FromNanos(afterNanos), max));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var alert in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (runtimes.Current.Options.Alerts is not { } options) continue;
                try
                {
                    using var content = new ByteArrayContent(Payload(alert));
                    content.Headers.ContentType = new("application/json");
                    using var response = await _http.PostAsync(options.WebhookUrl, content, stoppingToken);
                    if (!response.IsSuccessStatusCode) Log.AlertFailed(logger, $"HTTP {(int)response.StatusCode} from the webhook");
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    Log.AlertFailed(logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>LiteLLM's webhook event fields: spend, max_budget, token, user_id, team_id, key_alias, event, event_group, event_message.</summary>
    private static byte[] Payload(BudgetAlert a)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            var key = a.Holder as VirtualKey;
            w.WriteStartObject();
            w.WriteNumber("spend", a.Spend);
            w.WriteNumber("max_budget", a.MaxBudget);
            w.WriteStringOrNull("token", key?.Token);
            w.WriteStringOrNull("key_alias", key?.KeyAlias);
            w.WriteStringOrNull("user_id", a.Holder switch { User u => u.UserId, TeamMembership m => m.UserId, OrganizationMember m => m.UserId, _ => key?.UserId });
            w.WriteStringOrNull("team_id", a.Holder switch { Team t => t.TeamId, TeamMembership m => m.TeamId, _ => key?.TeamId });
            w.WriteString("event", a.Threshold >= 1 ? "budget_crossed" : "threshold_crossed");
            w.WriteString("event_group", a.Holder.Scope);
            w.WriteNumber("threshold", a.Threshold);
            w.WriteString("event_message", $"{(a.Holder is TeamMembership or OrganizationMember or ProxyBudget ? LimitHolders.Describe(a.Holder) : $"{a.Holder.Scope} {a.Holder.Id}")} has spent ${a.Spend:0.######} of its ${a.MaxBudget:0.######} budget ({a.Threshold:P0} threshold crossed)");
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
