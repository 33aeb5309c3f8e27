using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Responses;

/// <summary>OpenAI's Responses API routes, with and without the /v1 prefix as LiteLLM serves them.</summary>
internal static class ResponsesEndpoints
{
    public static void AddResponses(IServiceCollection services)
    {
        services.AddSingleton<ResponseRegistry>();
        services.AddSingleton<ResponsesSettings>();
        services.AddSingleton<HostedToolLoop>();
        services.AddSingleton<ResponsesService>();
        services.AddSingleton<ChatCodeInterpreter>();
    }

    public static void Map(IEndpointRouteBuilder app)
    {
        var service = app.ServiceProvider.GetRequiredService<ResponsesService>();
        foreach (var prefix in new[] { "/v1", "" })
        {
            app.MapPost(prefix + "/responses", (Func<HttpContext, Task>)service.CreateAsync).Gateway(GatewayRoute.Llm("responses", RoutePayload.LlmResponses))
                .WithName(prefix + "responses").WithSummary("Create a model response (OpenAI's Responses API; streaming with stream: true, background with background: true)");
            app.MapGet(prefix + "/responses/{id}", (HttpContext c, string id) => service.GetAsync(c, id)).Gateway(GatewayRoute.StoredResponses)
                .WithName(prefix + "response").WithSummary("Retrieve a stored response");
            app.MapDelete(prefix + "/responses/{id}", (HttpContext c, string id) => service.DeleteAsync(c, id)).Gateway(GatewayRoute.StoredResponses)
                .WithName(prefix + "delete_response").WithSummary("Delete a stored response");
            app.MapPost(prefix + "/responses/{id}/cancel", (HttpContext c, string id) => service.CancelAsync(c, id)).Gateway(GatewayRoute.StoredResponses)
                .WithName(prefix + "cancel_response").WithSummary("Cancel a background response");
            app.MapGet(prefix + "/responses/{id}/input_items", (HttpContext c, string id) => service.InputItemsAsync(c, id)).Gateway(GatewayRoute.StoredResponses)
                .WithName(prefix + "response_input_items").WithSummary("List a stored response's input items");
        }
    }
}
