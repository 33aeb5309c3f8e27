using System.Collections.Immutable;

namespace AgenticGateway.Cedar;

internal enum PolicyEffect : byte { Permit, Forbid }

/// <summary>One file's policies, by name (the name is what errors and policies cite).</summary>
internal readonly record struct PolicySource(string File, string Text);

/// <summary>A load error, where it is.</summary>
internal sealed record PolicyError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>The result of loading policies: a set, or every error found (never both).</summary>
internal sealed class PolicyLoad
{
    public PolicyLoad(PolicySet? set, ImmutableArray<PolicyError> errors)
    {
        Set = set;
        Errors = errors.IsDefault ? [] : errors;
    }

    public PolicySet? Set { get; }
    public ImmutableArray<PolicyError> Errors { get; }
    public bool Succeeded => Set is not null && Errors.IsEmpty;
}

/// <summary>A Cedar authorization request.</summary>
internal readonly record struct CedarRequest(ICedarEntity Principal, ICedarEntity Action, ICedarEntity Resource, CedarRecord Context);

internal enum PolicyOutcome : byte
{
    /// <summary>The scope does not match or a condition is false.</summary>
    NotApplicable,
    Satisfied,
    /// <summary>Evaluation failed (type error, overflow, missing attribute or entity): Cedar skips the policy.</summary>
    Error,
}

/// <summary>Cedar's answer: the determining policies are the satisfied permits when allowed, the satisfied forbids when denied by them.</summary>
internal sealed record AuthorizationResult(bool Allowed, ImmutableArray<string> DeterminingPolicies, ImmutableArray<PolicyErrorReport> Errors);

internal sealed record PolicyErrorReport(string PolicyId, string Message);
