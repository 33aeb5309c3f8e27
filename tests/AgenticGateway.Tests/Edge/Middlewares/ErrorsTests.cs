using Microsoft.AspNetCore.Http;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's errors: caught statuses answered by another service's page, with rewrites, query variables and headers.</summary>
[Trait("Category", "unit")]
public class ErrorsTests
{
    private const string Documented = """
        http:
          middlewares:
            test-errors:
              errors:
                status:
                  - "500"
                  - "501"
                  - "503"
                  - "505-599"
                statusRewrites:
                  "418": 404
                  "502-504": 500
                service: error-handler-service
                query: "/{status}.html"
        """;

    private sealed record PageRequest(string Method, string Target, string Host, Dictionary<string, string> Headers);

    private static (RequestDelegate Service, List<PageRequest> Seen) ErrorService(int status = 200)
    {
        var seen = new List<PageRequest>();
        RequestDelegate service = async http =>
        {
            seen.Add(new PageRequest(http.Request.Method, http.Request.Path + http.Request.QueryString, http.Request.Host.Value!,
                http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString())));
            http.Response.StatusCode = status;
            http.Response.ContentType = "text/html";
            await http.Response.WriteAsync("<h1>custom page</h1>");
        };
        return (service, seen);
    }

    [Fact]
    public async Task A_caught_status_is_answered_by_the_error_service_with_its_rewritten_status()
    {
        var (service, seen) = ErrorService();
        var app = Build(Documented, Context(services: name => name == "error-handler-service" ? service : null))(async http =>
        {
            http.Response.Headers["X-Backend"] = "leaked?";
            await Answer(503, "backend's own error text")(http);
        });
        var http = Request("POST", "/api/items", body: "{}", headers: ("Authorization", "Bearer t"));
        await app(http);
        // 503 is caught, and the documented rewrite of 502-504 makes it a 500.
        Assert.Equal(500, http.Response.StatusCode);
        Assert.Equal("<h1>custom page</h1>", Body(http));
        Assert.False(http.Response.Headers.ContainsKey("X-Backend"));
        var page = Assert.Single(seen);
        Assert.Equal("GET", page.Method);
        Assert.Equal("/500.html", page.Target);
        Assert.Equal("example.com", page.Host);
        // By default every original header goes to the error service.
        Assert.Equal("Bearer t", page.Headers["Authorization"]);
        // The request is the original again for whatever runs outside.
        Assert.Equal("POST", http.Request.Method);
        Assert.Equal("/api/items", http.Request.Path.Value);
    }

    [Fact]
    public async Task Statuses_outside_the_ranges_pass_untouched()
    {
        var (service, seen) = ErrorService();
        var app = Build(Documented, Context(services: _ => service))(Answer(502, "bad gateway"));
        var http = Request();
        await app(http);
        Assert.Equal(502, http.Response.StatusCode);
        Assert.Equal("bad gateway", Body(http));
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Rewrites_change_the_status_and_the_query_sees_both_and_the_url()
    {
        var (service, seen) = ErrorService(status: 200);
        var app = Build("""
            http:
              middlewares:
                e:
                  errors:
                    status: ["418,502-504"]
                    statusRewrites:
                      "418": 404
                      "502-504": 500
                    service: pages
                    query: "/errors?code={status}&was={originalStatus}&from={url}"
            """, Context(services: _ => service))(Answer(418));
        var http = Request(path: "/tea pot", host: "shop.example");
        http.Request.QueryString = new QueryString("?a=1");
        await app(http);
        Assert.Equal(404, http.Response.StatusCode);
        Assert.Equal("/errors?code=404&was=418&from=http%3A%2F%2Fshop.example%2Ftea%2520pot%3Fa%3D1", Assert.Single(seen).Target);
    }

    [Fact]
    public async Task Error_request_headers_limit_what_the_error_service_sees()
    {
        var (service, seen) = ErrorService();
        var only = Build("""
            http:
              middlewares:
                e:
                  errors:
                    status: ["500-599"]
                    service: pages
                    errorRequestHeaders: [Accept-Language]
            """, Context(services: _ => service))(Answer(500));
        await only(Request(headers: [("Accept-Language", "fr"), ("Cookie", "secret=1")]));
        Assert.Equal("fr", seen[0].Headers["Accept-Language"]);
        Assert.False(seen[0].Headers.ContainsKey("Cookie"));

        var none = Build("""
            http:
              middlewares:
                e:
                  errors:
                    status: ["500-599"]
                    service: pages
                    errorRequestHeaders: []
            """, Context(services: _ => service))(Answer(500));
        await none(Request(headers: [("Accept-Language", "fr"), ("Cookie", "secret=1")]));
        Assert.Equal(["Host"], seen[1].Headers.Keys);
    }

    [Fact]
    public void A_missing_or_unknown_service_is_an_error()
    {
        var (built, errors) = TryBuild(Documented);
        Assert.Null(built);
        Assert.Contains("http.middlewares.test-errors.errors.service: service 'error-handler-service' does not exist", errors);
    }
}
