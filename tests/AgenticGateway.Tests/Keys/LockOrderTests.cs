using AgenticGateway.Keys;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// Writes that lock several rows take them in one order, the spend writer's (keys, users, teams, organizations; rows by
/// id): on PostgreSQL two transactions taking the same rows the other way round deadlock, and one of them fails.
/// </summary>
[Trait("Category", "functional")]
public class LockOrderTests
{
    private const string Config = "master_key: sk-lock-order\nmodels:\n  - {name: m, provider: mock}\n";

    [Fact]
    public async Task Deleting_an_organization_while_a_spend_batch_holds_its_team_waits_for_it_instead_of_deadlocking()
    {
        await using var gw = await Backends.StartGatewayAsync(Config, "postgres");
        var (_, org) = await gw.AdminAsync("/organization/new", """{"organization_alias": "lock-order"}""", "sk-lock-order");
        var orgId = org.GetProperty("organization_id").GetString()!;
        var (_, team) = await gw.AdminAsync("/team/new", $$"""{"organization_id": "{{orgId}}"}""", "sk-lock-order");
        var teamId = team.GetProperty("team_id").GetString()!;

        // A spend batch: it has added to the team's spend (and holds that row) and is about to add to the organization's.
        await using var spend = await gw.Services.GetRequiredService<IDatabase>().OpenAsync(CancellationToken.None);
        await using var batch = await spend.BeginTransactionAsync();
        await spend.ExecuteAsync("UPDATE teams SET spend_nanos = spend_nanos + 1 WHERE team_id = @teamId", new { teamId }, batch);
        var delete = gw.Services.GetRequiredService<IIdentityStore>().DeleteOrganizationAsync(orgId, CancellationToken.None);
        await Task.Delay(500);   // the delete reaches its first row lock and waits there
        await spend.ExecuteAsync("UPDATE organizations SET spend_nanos = spend_nanos + 1 WHERE organization_id = @orgId", new { orgId }, batch);
        await batch.CommitAsync();

        Assert.True(await delete.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
