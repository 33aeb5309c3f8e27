using System.Collections.Frozen;
using System.Diagnostics;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Runtime;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The guardrails of the running configuration, built once per snapshot through every registered
/// <see cref="IGuardrailTypes"/> (a reload builds them anew), and run for a caller in configuration order. Which run:
/// LiteLLM's rules (docs proxy/guardrails/quick_start.md): every <c>default_on</c> one (unless the key's or team's
/// metadata sets <c>disable_global_guardrails</c>), those the key's or team's metadata <c>guardrails</c> list names,
/// and those the request names; a request may also turn one off (<c>{"name": false}</c>) where its team allows it.
/// </summary>
internal sealed class GuardrailRunner(IEnumerable<IGuardrailTypes> types, RuntimeHolder runtimes, GuardrailMetrics metrics, ILogger<GuardrailRunner> logger) : IGuardrailRunner
{
    private readonly IGuardrailTypes[] _types = types.ToArray();
    private volatile Built? _built;

    /// <summary>The guardrails of one configuration snapshot, in configuration order.</summary>
    internal sealed record Built(GuardrailOptions Options, IGuardrail[] All, FrozenDictionary<string, IGuardrail> ByName);

    /// <summary>The running configuration's guardrail options.</summary>
    public GuardrailOptions Options => runtimes.Current.Options.Guardrails;

    /// <summary>The guardrails of the running configuration (built on first use after a reload).</summary>
    public Built Current
    {
        get
        {
            var options = Options;
            var built = _built;
            if (built is null || !ReferenceEquals(built.Options, options)) _built = built = Build(options);
            return built;
        }
    }

    private Built Build(GuardrailOptions options)
    {
        var all = new IGuardrail[options.Guardrails.Length];
        for (var i = 0; i < all.Length; i++)
        {
            var definition = options.Guardrails[i];
            IGuardrail? made = null;
            foreach (var type in _types)
            {
                if ((made = type.Create(definition)) is not null) break;
            }
            if (made is null) GuardrailLog.Unavailable(logger, definition.Name, definition.Type);
            // The configuration accepted the type but nothing here implements it: it refuses everything it is asked
            // to check rather than letting requests through unchecked (fail closed).
            all[i] = made ?? new UnavailableGuardrail(definition);
        }
        return new Built(options, all, all.ToFrozenDictionary(g => g.Definition.Name, StringComparer.Ordinal));
    }

    public bool AnyFor(GuardrailMode mode, Caller caller, GuardrailSelection? requested)
    {
        var built = Current;
        if (built.All.Length == 0) return false;
        var scope = GuardrailScope.Of(caller);
        foreach (var g in built.All)
        {
            if (Applies(g.Definition, mode, scope, requested)) return true;
        }
        return false;
    }

    /// <summary>The guardrails that run in this mode for this caller, in configuration order.</summary>
    public IReadOnlyList<IGuardrail> Selected(GuardrailMode mode, Caller caller, GuardrailSelection? requested)
    {
        var built = Current;
        if (built.All.Length == 0) return [];
        var scope = GuardrailScope.Of(caller);
        List<IGuardrail>? selected = null;
        foreach (var g in built.All)
        {
            if (Applies(g.Definition, mode, scope, requested)) (selected ??= []).Add(g);
        }
        return selected ?? (IReadOnlyList<IGuardrail>)[];
    }

    private static bool Applies(GuardrailDefinition d, GuardrailMode mode, GuardrailScope scope, GuardrailSelection? requested)
    {
        if (!d.Modes.Contains(mode)) return false;
        if (requested is not null && requested.Off.Contains(d.Name)) return false;
        if (d.DefaultOn && !scope.DisableGlobal) return true;
        return scope.Names.Contains(d.Name) || (requested is not null && requested.On.Contains(d.Name));
    }

    public async ValueTask<GuardrailResult> RunAsync(GuardrailMode mode, IReadOnlyList<string> texts, Caller caller, string? model, string requestId,
        GuardrailSelection? requested, CancellationToken ct)
    {
        var selected = Selected(mode, caller, requested);
        if (selected.Count == 0) return new GuardrailResult(false, null, null, texts, []);
        var check = new GuardrailCheck(mode, texts, caller, model, requestId);
        var decisions = new List<GuardrailDecision>(selected.Count);
        foreach (var g in selected)
        {
            var (verdict, decision) = await CheckAsync(g, check, ct);
            decisions.Add(decision);
            if (decision.DryRun) continue;
            if (verdict.Action == GuardrailAction.Block)
                return new GuardrailResult(true, g.Definition.Name, verdict.Reason, check.Texts, decisions);
            if (verdict.Action == GuardrailAction.Mask && verdict.Masked is { } masked && masked.Count == check.Texts.Count)
                check = check with { Texts = masked };
        }
        return new GuardrailResult(false, null, null, check.Texts, decisions);
    }

    /// <summary>One guardrail on one check, timed and counted; a guardrail that throws blocks (fails closed).</summary>
    public async ValueTask<(GuardrailVerdict Verdict, GuardrailDecision Decision)> CheckAsync(IGuardrail g, GuardrailCheck check, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        GuardrailVerdict verdict;
        string? error = null;
        try
        {
            verdict = await g.CheckAsync(check, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            GuardrailLog.Failed(logger, g.Definition.Name, ex.GetType().Name, check.RequestId);
            error = ex.GetType().Name;
            verdict = new GuardrailVerdict(GuardrailAction.Block, null, $"the guardrail '{g.Definition.Name}' could not check the request", new Dictionary<string, int>());
        }
        var decision = Decide(g.Definition, check.Mode, verdict, Stopwatch.GetElapsedTime(started).TotalMilliseconds, error);
        metrics.Decision(decision);
        return (verdict, decision);
    }

    /// <summary>A decision made outside <see cref="RunAsync"/> (a stream's output, checked as it passes), counted in metrics.</summary>
    public GuardrailDecision Record(GuardrailDefinition definition, GuardrailMode mode, GuardrailAction action, IReadOnlyDictionary<string, int> counts, double durationMs)
    {
        var decision = Decide(definition, mode, new GuardrailVerdict(action, null, null, counts), durationMs, null);
        metrics.Decision(decision);
        return decision;
    }

    /// <summary>Whether a guardrail only reports here: dry run (global or its own), or logging_only (the gateway logs no content to mask).</summary>
    public bool ReportsOnly(GuardrailDefinition definition, GuardrailMode mode) => Options.DryRun || definition.DryRun || mode == GuardrailMode.LoggingOnly;

    private GuardrailDecision Decide(GuardrailDefinition d, GuardrailMode mode, GuardrailVerdict verdict, double ms, string? error) =>
        new(d.Name, mode, verdict.Action, ReportsOnly(d, mode), verdict.Counts, ms, error);

    /// <summary>A guardrail whose type the configuration accepted but no registered <see cref="IGuardrailTypes"/> builds.</summary>
    private sealed class UnavailableGuardrail(GuardrailDefinition definition) : IGuardrail
    {
        public GuardrailDefinition Definition { get; } = definition;

        public ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct) =>
            ValueTask.FromResult(new GuardrailVerdict(GuardrailAction.Block, null, $"the guardrail '{Definition.Name}' (type {Definition.Type}) is not available on this gateway",
                new Dictionary<string, int>()));
    }
}

/// <summary>
/// What a caller's key and team say about guardrails, read from their metadata as LiteLLM stores it:
/// <c>guardrails: [names]</c> (set by /key/generate, /key/update, /team/new, /team/update), <c>disable_global_guardrails</c>,
/// and <c>guardrails: {"modify_guardrails": true|false}</c> on the key or its team.
/// Read once per metadata text (keys and teams are cached objects) and kept beside it.
/// </summary>
/// <param name="MayModify">Whether requests may pick guardrails beyond their own (false where the key or team sets modify_guardrails: false).</param>
/// <param name="MayDisable">
/// Whether a request may turn a guardrail off. Unlike LiteLLM, where any request may unless its team says
/// modify_guardrails: false, this needs an explicit grant: modify_guardrails: true on the key or its team, or the
/// admin. A default_on guardrail is the operator's policy; a caller holding a plain key must not be able to drop it
/// with one request parameter. A modify_guardrails: false on either level still wins.
/// </param>
internal sealed record GuardrailScope(FrozenSet<string> Names, bool DisableGlobal, bool MayModify, bool MayDisable)
{
    public static readonly GuardrailScope None = new(FrozenSet<string>.Empty, false, true, false);
    private static readonly GuardrailScope Admin = new(FrozenSet<string>.Empty, false, true, true);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, MetadataGuardrails> Parsed = new();

    private sealed record MetadataGuardrails(string[] Names, bool DisableGlobal, bool? Modify);

    public static GuardrailScope Of(Caller caller)
    {
        if (caller.Identity is not { } id) return caller.IsAdmin ? Admin : None;
        var key = Read(id.Key.Metadata);
        var team = id.Team is null ? null : Read(id.Team.Metadata);
        if (key.Names.Length == 0 && !key.DisableGlobal && key.Modify is null && (team is null || (team.Names.Length == 0 && !team.DisableGlobal && team.Modify is null)))
            return caller.IsAdmin ? Admin : None;
        var mayModify = key.Modify != false && team?.Modify != false;
        return new GuardrailScope([.. key.Names, .. team?.Names ?? []], key.DisableGlobal || team?.DisableGlobal == true,
            mayModify, mayModify && (caller.IsAdmin || key.Modify == true || team?.Modify == true));
    }

    private static MetadataGuardrails Read(string metadata)
    {
        if (metadata.Length <= 2 || !metadata.Contains("guardrails", StringComparison.Ordinal)) return Empty;
        return Parsed.GetValue(metadata, ParseMetadata);
    }

    private static readonly MetadataGuardrails Empty = new([], false, null);

    private static MetadataGuardrails ParseMetadata(string metadata)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(metadata);
            var root = doc.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Object) return Empty;
            var names = new List<string>();
            bool? modify = null;
            if (root.TryGetProperty("guardrails", out var g))
            {
                if (g.ValueKind == System.Text.Json.JsonValueKind.Array)
                {
                    foreach (var n in g.EnumerateArray())
                        if (n.ValueKind == System.Text.Json.JsonValueKind.String) names.Add(n.GetString()!);
                }
                else if (g.ValueKind == System.Text.Json.JsonValueKind.Object)
                {
                    // The team's permission (LiteLLM: metadata.guardrails.modify_guardrails), and the older map of
                    // guardrail names to on/off.
                    foreach (var p in g.EnumerateObject())
                    {
                        if (p.NameEquals("modify_guardrails")) modify = p.Value.ValueKind != System.Text.Json.JsonValueKind.False;
                        else if (p.Value.ValueKind == System.Text.Json.JsonValueKind.True) names.Add(p.Name);
                    }
                }
            }
            var disable = root.TryGetProperty("disable_global_guardrails", out var d) && d.ValueKind == System.Text.Json.JsonValueKind.True;
            return new MetadataGuardrails([.. names], disable, modify);
        }
        catch (System.Text.Json.JsonException)
        {
            return Empty;
        }
    }
}
