using AgenticGateway.Edge.Middlewares;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's chain: the named middlewares in their order, as one; an unknown name is an error.</summary>
[Trait("Category", "unit")]
public class ChainTests
{
    private const string Documented = """
        http:
          middlewares:
            secured:
              chain:
                middlewares:
                  - https-only
                  - known-ips
                  - auth-users
        """;

    [Fact]
    public async Task The_documented_chain_runs_its_middlewares_in_order()
    {
        var order = new List<string>();
        EdgeMiddleware Marker(string name) => next => async http =>
        {
            order.Add(name);
            await next(http);
        };
        var context = Context(middlewares: name => name is "https-only" or "known-ips" or "auth-users" ? Marker(name) : null);
        await Build(Documented, context)(http => { order.Add("service"); return Task.CompletedTask; })(Request());
        Assert.Equal(["https-only", "known-ips", "auth-users", "service"], order);
    }

    [Fact]
    public void An_unknown_middleware_is_an_error()
    {
        var (built, errors) = TryBuild(Documented, Context(middlewares: name => name == "https-only" ? next => next : null));
        Assert.Null(built);
        Assert.Contains(errors, e => e == "http.middlewares.secured.chain.middlewares: middleware 'known-ips' does not exist");
        Assert.Contains(errors, e => e == "http.middlewares.secured.chain.middlewares: middleware 'auth-users' does not exist");
    }
}
