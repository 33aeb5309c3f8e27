using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Pricing;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Services.Sandboxes;
using AgenticGateway.Spend;

namespace AgenticGateway.Services.Containers;

/// <summary>
/// One code interpreter run. <see cref="Logs"/> is what the model reads: stdout, stderr, the value of the last
/// expression, and the traceback of an uncaught exception (bounded). <see cref="Failed"/> marks an exception in the
/// code (a normal result: <see cref="Error"/> holds its traceback); a sandbox that could not run the code throws
/// <see cref="CodeInterpreterException"/> instead.
/// </summary>
/// <param name="SandboxSeconds">The sandbox time charged for the run: its wall-clock time, with the container's start when the run made it.</param>
internal sealed record CodeRun(string ContainerId, string Logs, IReadOnlyList<CodeFile> Images, bool Failed, string? Error, double SandboxSeconds);

/// <summary>An image a run produced, saved as a container file (downloadable through /v1/containers/{id}/files/{file_id}/content).</summary>
internal sealed record CodeFile(string FileId, string ContainerId, string Path, string MimeType);

/// <summary>The code could not be run (sandboxes off or full, no such container, the budget spent, the sandbox failing): the error in the API's shape.</summary>
internal sealed class CodeInterpreterException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}

/// <summary>
/// Runs Python for the hosted code_interpreter tool in a container (a sandbox) owned by the caller, through the
/// sandbox manager, so the sandboxes' quotas, capacity, isolation (no network unless the container was made with an
/// allowlist) and execute timeout apply. State persists across runs in one container, as in a notebook. Each run's
/// sandbox time is priced at <c>sandboxes.cost_per_second</c>, reserved against the caller's budgets before it starts
/// (its longest possible time) and settled to what it took, and written as a spend log with call type
/// "code_interpreter" (model "code_interpreter", deployment the container id, latency the sandbox time).
/// </summary>
internal sealed partial class CodeInterpreter(SandboxContainers containers, Budgets budgets, SpendWal wal, TimeProvider time, ILogger<CodeInterpreter> logger,
    IContentGuardrails? guardrails = null)
{
    /// <summary>What the model reads of a run's output; beyond it the middle is cut (the end holds the traceback).</summary>
    public const int MaxLogChars = 32 * 1024;
    public const int MaxCodeChars = 1 << 20;
    private const string Language = "python";
    /// <summary>The name of a container a run makes for itself (OpenAI's <c>container: {type: "auto"}</c>).</summary>
    public const string AutoName = "code_interpreter";

    private static readonly (string Field, string MimeType, string Extension)[] ImageFields = [("png", "image/png", "png"), ("jpeg", "image/jpeg", "jpg")];

    /// <summary>
    /// Runs <paramref name="code"/> in the caller's container <paramref name="containerId"/>, or in a new one when it
    /// is null (its id is in the result: pass it to the next run to keep state and files). <paramref name="requestId"/>
    /// is the spend log's request id (the request whose model called the tool).
    /// </summary>
    /// <exception cref="CodeInterpreterException">The code could not be run; nothing was run (or it was cut off) and the error says why.</exception>
    public async Task<CodeRun> RunAsync(Caller caller, string? containerId, string code, string requestId, CancellationToken ct)
    {
        var manager = containers.Manager;
        if (manager.Unavailable is { } reason)
            throw new CodeInterpreterException(new ApiError(503, $"The code interpreter needs sandboxes, which are off on this gateway: {reason}.", "service_unavailable", "sandboxes_disabled"));
        if (code.Length > MaxCodeChars)
            throw new CodeInterpreterException(ApiError.BadRequest($"The code is longer than {MaxCodeChars} characters.", "code"));
        var owner = SandboxHttp.OwnerOf(caller);
        Sandbox? sandbox = null;
        if (containerId is not null && (sandbox = containers.Find(owner, containerId)) is null)
            throw new CodeInterpreterException(ContainerEndpoints.NotFound(containerId));

        var options = manager.Options;
        var timeout = options.ExecuteTimeout;
        var price = options.CostPerSecond;
        Budgets.Hold? hold = null;
        if (price > 0)
        {
            var longest = timeout + CodeExecution.Backstop + (sandbox is null ? options.Pools.GetValueOrDefault(Language)?.BootTimeout ?? TimeSpan.FromSeconds(10) : TimeSpan.Zero);
            (hold, var refused) = await budgets.ReserveAsync(caller, price * (decimal)longest.TotalSeconds, ct);
            if (refused is not null) throw new CodeInterpreterException(refused);
        }

        var started = Stopwatch.GetTimestamp();
        var status = 500;
        double? seconds = null;
        var guarded = new GuardedRun(caller, requestId);
        try
        {
            if (sandbox is null)
            {
                var (created, error) = await containers.CreateAsync(owner, new ContainerRequest(AutoName, Math.Min(ContainerRequest.DefaultMinutes, containers.MaxMinutes), null, []), ct);
                if (error is not null) { status = error.Status; throw new CodeInterpreterException(error); }
                sandbox = created!;
            }
            var run = await RunInAsync(sandbox, code, timeout, guarded, ct);
            status = 200;
            // The seconds reported are the seconds charged.
            seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return run with { SandboxSeconds = seconds.Value };
        }
        catch (AgentException ex)
        {
            var error = SandboxHttp.FromAgent(ex);
            status = error.Status;
            throw new CodeInterpreterException(error);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The caller left (nginx's 499): the run was interrupted in the sandbox; the time it took is still charged.
            status = 499;
            throw;
        }
        catch (CodeInterpreterException ex) when (status == 500)
        {
            status = ex.Error.Status;
            throw;
        }
        finally
        {
            seconds ??= Stopwatch.GetElapsedTime(started).TotalSeconds;
            manager.Metrics.Executed(Language, seconds.Value);
            // A run that never had a sandbox (its create refused) did no sandbox work: nothing is charged.
            if (sandbox is null) { if (hold is not null) await budgets.SettleAsync(hold, 0); }
            else await ChargeAsync(caller, SandboxContainers.IdOf(sandbox), hold, price, seconds.Value, status, requestId, guarded.Information);
        }
    }

    /// <summary>The caller a run's sandbox_output guardrails apply to, and what they decided (for the run's spend log).</summary>
    private sealed class GuardedRun(Caller caller, string requestId)
    {
        public Caller Caller { get; } = caller;
        public string RequestId { get; } = requestId;
        public string? Information { get; set; }
    }

    private async Task<CodeRun> RunInAsync(Sandbox sandbox, string code, TimeSpan timeout, GuardedRun guarded, CancellationToken ct)
    {
        var containerId = SandboxContainers.IdOf(sandbox);
        // Busy for the run's longest time, then idle minutes from its end.
        containers.Touch(sandbox, timeout + CodeExecution.Backstop);
        await sandbox.EnsureContextAsync(Language, ct);
        var call = CodeExecution.Start(sandbox, Language, code, timeout, containers.Manager.Options.MaxOutputBytes);
        var events = new List<AgentEvent>();
        if (!await CodeExecution.DrainAsync(call, timeout, events.Add, ct))
        {
            Log.Unanswered(logger, sandbox.Id, (timeout + CodeExecution.Backstop).TotalSeconds);
            throw new CodeInterpreterException(new ApiError(504, $"The sandbox did not finish the run within {(timeout + CodeExecution.Backstop).TotalSeconds:0} s; it was cancelled.", "timeout_error", "execution_timeout"));
        }
        // sandbox_output guardrails see the run before anything of it is kept: a block refuses the run (so neither the
        // model nor the client reads the output, and no image of it is saved); a mask is what both read.
        if (SandboxOutputGuard.Applies(guardrails, guarded.Caller))
        {
            var (released, check) = await SandboxOutputGuard.CheckAsync(guardrails!, events, guarded.Caller, guarded.RequestId, ct);
            guarded.Information = check?.InformationJson;
            if (check is { Blocked: true })
                throw new CodeInterpreterException(new ApiError(400, check.BlockMessage("the output of this run"), "invalid_request_error", "guardrail_violation"));
            events = released;
        }
        var result = new ExecutionResult();
        foreach (var e in events) result.Add(e);
        var images = new List<CodeFile>();
        foreach (var r in result.Results)
            foreach (var (field, mimeType, extension) in ImageFields)
                if (r.TryGetProperty(field, out var data) && data.ValueKind == JsonValueKind.String)
                {
                    var path = $"{ContainerFiles.Directory}/figure_{Guid.NewGuid().ToString("N")[..12]}.{extension}";
                    var saved = await ContainerFiles.SaveAsync(sandbox, path, data.GetBytesFromBase64(), ct);
                    images.Add(new CodeFile(saved.Id, containerId, saved.Path, mimeType));
                }
        containers.Touch(sandbox, TimeSpan.Zero);

        var logs = new StringBuilder(result.Stdout).Append(result.Stderr);
        foreach (var r in result.Results)
            if (r.TryGetProperty("is_main_result", out var main) && main.ValueKind == JsonValueKind.True && r.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                AppendLine(logs, text.GetString()!);
        string? error = null;
        if (result.Exception is { } ex)
        {
            var traceback = ex.TryGetProperty("traceback", out var tb) && tb.ValueKind == JsonValueKind.String ? tb.GetString() : null;
            error = !string.IsNullOrEmpty(traceback) ? traceback
                : $"{(ex.TryGetProperty("name", out var n) ? n.GetString() : "Error")}: {(ex.TryGetProperty("value", out var v) ? v.GetString() : "")}";
            AppendLine(logs, error);
        }
        return new CodeRun(containerId, Bound(logs.ToString()), images, result.Exception is not null, error, 0);
    }

    private static void AppendLine(StringBuilder logs, string text)
    {
        if (logs.Length > 0 && logs[^1] != '\n') logs.Append('\n');
        logs.Append(text);
    }

    /// <summary>The logs within <see cref="MaxLogChars"/>: the start and the end kept, the middle cut and said so.</summary>
    internal static string Bound(string logs)
    {
        if (logs.Length <= MaxLogChars) return logs;
        var keep = MaxLogChars / 2;
        return $"{logs[..keep]}\n[... {logs.Length - 2 * keep} characters cut ...]\n{logs[^keep..]}";
    }

    /// <summary>Settles the reservation to the run's cost and writes its spend log (a run is logged even when sandbox time is free).</summary>
    private async Task ChargeAsync(Caller caller, string containerId, Budgets.Hold? hold, decimal price, double seconds, int status, string requestId, string? guardrailInformation)
    {
        var nanos = Money.ToNanos(price * (decimal)seconds);
        if (hold is not null) await budgets.SettleAsync(hold, nanos);
        await wal.AppendAsync(SpendLog.ForCaller(caller, requestId, "code_interpreter", "code_interpreter", time.GetUtcNow(), seconds * 1000) with
        {
            ModelGroup = "code_interpreter",
            Deployment = containerId,
            Provider = "sandbox",
            CostNanos = nanos,
            Status = status,
            GuardrailInformation = guardrailInformation,
        });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Code interpreter run in sandbox {SandboxId} got no answer within {Seconds} s; cancelled")]
        public static partial void Unanswered(ILogger logger, string sandboxId, double seconds);
    }
}
