using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>sandbox_output guardrails on a run's events: stdout checked whole (a secret split across writes), masks released in place, blocks refuse.</summary>
[Trait("Category", "unit")]
public class SandboxOutputGuardTests
{
    private static AgentEvent Event(string json)
    {
        var body = JsonDocument.Parse(json).RootElement.Clone();
        return new AgentEvent(body.GetProperty("type").GetString()!, body);
    }

    private static List<AgentEvent> Run() =>
    [
        Event("""{"id":"1","type":"start"}"""),
        Event("""{"id":"1","type":"stdout","data":"contact: ann@exa"}"""),
        Event("""{"id":"1","type":"stderr","data":"warn\n"}"""),
        Event("""{"id":"1","type":"stdout","data":"mple.com\n"}"""),
        Event("""{"id":"1","type":"result","text/plain":"'bob@example.org'","is_main_result":true}"""),
        Event("""{"id":"1","type":"done","exit_code":0}"""),
    ];

    [Fact]
    public async Task An_address_printed_in_two_writes_is_masked_and_the_other_events_keep_their_order()
    {
        var fake = new FakeContentGuardrails(GuardrailMode.SandboxOutput);
        var (events, check) = await SandboxOutputGuard.CheckAsync(fake, Run(), Caller.Admin, "req", CancellationToken.None);

        Assert.False(check!.Blocked);
        Assert.Equal(["contact: ann@example.com\n", "warn\n", "'bob@example.org'"], Assert.Single(fake.Calls).Texts);
        Assert.Equal(["start", "stdout", "stderr", "result", "done"], events.Select(e => e.Type));
        Assert.Equal("contact: <EMAIL_ADDRESS>\n", events[1].String("data"));
        Assert.Equal("1", events[1].String("id"));
        Assert.Equal("'<EMAIL_ADDRESS>'", events[3].Body.GetProperty("text/plain").GetString());
        Assert.True(events[3].Body.GetProperty("is_main_result").GetBoolean());
        Assert.Equal("result", events[3].String("type"));

        var result = new ExecutionResult();
        foreach (var e in events) result.Add(e);
        Assert.Equal("contact: <EMAIL_ADDRESS>\n", result.Stdout);
    }

    [Fact]
    public async Task A_blocked_output_is_refused_whole()
    {
        var run = Run();
        run.Insert(2, Event("""{"id":"1","type":"stdout","data":"the forbidden word\n"}"""));
        var (_, check) = await SandboxOutputGuard.CheckAsync(new FakeContentGuardrails(GuardrailMode.SandboxOutput), run, Caller.Admin, "req", CancellationToken.None);
        Assert.True(check!.Blocked);
        Assert.Equal("The guardrail 'fake' blocked the output of this run: a forbidden word", check.BlockMessage("the output of this run"));
    }

    [Fact]
    public void It_applies_only_with_a_caller_and_a_guardrail_in_the_mode()
    {
        Assert.True(SandboxOutputGuard.Applies(new FakeContentGuardrails(GuardrailMode.SandboxOutput), Caller.Admin));
        Assert.False(SandboxOutputGuard.Applies(new FakeContentGuardrails(GuardrailMode.PostMcpCall), Caller.Admin));
        Assert.False(SandboxOutputGuard.Applies(null, Caller.Admin));
        Assert.False(SandboxOutputGuard.Applies(new FakeContentGuardrails(GuardrailMode.SandboxOutput), null));
    }
}
