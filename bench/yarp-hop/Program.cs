// The plain YARP hop: YARP's "direct forwarding" (IHttpForwarder) to the upstream given by --upstream, on --urls.
// Same runtime settings as the gateway's (GC mode, see the csproj), so the ratio measures what the gateway does per
// request, not a different runtime configuration.
using System.Net;
using Yarp.ReverseProxy.Forwarder;

var upstream = args.SkipWhile(a => a != "--upstream").Skip(1).FirstOrDefault()
    ?? throw new ArgumentException("usage: YarpHop --upstream http://host:port --urls http://127.0.0.1:port");

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddHttpForwarder();
var app = builder.Build();

// One pooled client for the life of the process, as YARP's docs set it up for direct forwarding.
var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    ConnectTimeout = TimeSpan.FromSeconds(15),
});
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
var config = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(100) };

app.Map("/{**catch-all}", async (HttpContext context) =>
{
    var error = await forwarder.SendAsync(context, upstream, invoker, config, HttpTransformer.Default);
    if (error != ForwarderError.None && !context.Response.HasStarted) context.Response.StatusCode = 502;
});
app.Run();
