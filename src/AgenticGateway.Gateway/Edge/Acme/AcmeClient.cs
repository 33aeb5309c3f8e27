using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace AgenticGateway.Edge.Acme;

/// <summary>The directory of an ACME server (RFC 8555 §7.1.1): the URLs of its resources.</summary>
internal sealed record AcmeDirectory(Uri NewNonce, Uri NewAccount, Uri NewOrder);

/// <summary>An order (§7.1.3): its URL, status, authorizations, and where to finalize and fetch the certificate.</summary>
internal sealed record AcmeOrder(string Url, string Status, IReadOnlyList<string> Authorizations, string Finalize, string? Certificate, string? Error);

/// <summary>An authorization (§7.1.4) for one identifier and the challenges offered for it.</summary>
internal sealed record AcmeAuthorization(string Url, string Domain, string Status, bool Wildcard, IReadOnlyList<AcmeChallenge> Challenges, string? Error);

internal sealed record AcmeChallenge(string Type, string Url, string Token, string Status, string? Error);

/// <summary>
/// An RFC 8555 client for one ACME server: the directory, nonces (taken from every answer; a badNonce answer is
/// retried with the fresh nonce it carries, §6.5), signed POSTs and POST-as-GET reads, problem documents as
/// <see cref="AcmeException"/>. Answers are limited in size and time (Traefik's clientTimeout, 2 minutes).
/// </summary>
internal sealed class AcmeClient : IDisposable
{
    private const int MaxAnswerBytes = 1 << 20;
    private const int BadNonceRetries = 5;

    private readonly HttpClient _http;
    private readonly Uri _directoryUrl;
    private readonly SemaphoreSlim _directoryLock = new(1, 1);
    private AcmeDirectory? _directory;
    private string? _nonce;

    public AcmeClient(Uri directoryUrl, IReadOnlyList<X509Certificate2> extraRoots, TimeSpan timeout)
    {
        _directoryUrl = directoryUrl;
        _http = new HttpClient(CreateHandler(extraRoots)) { Timeout = timeout, MaxResponseContentBufferSize = MaxAnswerBytes };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("agentic-gateway-acme", "1"));
    }

    /// <summary>
    /// Trusts the system's roots and <paramref name="extraRoots"/> (Traefik's caCertificates / LEGO_CA_CERTIFICATES,
    /// e.g. Pebble's CA): a server certificate that fails only the chain check is accepted when it chains to one of them.
    /// </summary>
    private static SocketsHttpHandler CreateHandler(IReadOnlyList<X509Certificate2> extraRoots) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(30),
        ResponseDrainTimeout = TimeSpan.FromSeconds(5),
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == SslPolicyErrors.None) return true;
                if (errors != SslPolicyErrors.RemoteCertificateChainErrors || extraRoots.Count == 0 || certificate is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(extraRoots.ToArray());
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            },
        },
    };

    public async Task<AcmeDirectory> DirectoryAsync(CancellationToken ct)
    {
        if (_directory is { } known) return known;
        await _directoryLock.WaitAsync(ct);
        try
        {
            if (_directory is { } raced) return raced;
            using var answer = await SendAsync(new HttpRequestMessage(HttpMethod.Get, _directoryUrl), "reading the directory", ct);
            var root = await ReadJsonAsync(answer, "the directory", ct);
            return _directory = new AcmeDirectory(Url(root, "newNonce", "the directory"), Url(root, "newAccount", "the directory"), Url(root, "newOrder", "the directory"));
        }
        finally
        {
            _directoryLock.Release();
        }
    }

    /// <summary>
    /// Creates the account of <paramref name="key"/>, or finds it when the key already has one (the server answers 200
    /// with its URL, §7.3.1); terms of service are agreed, as Traefik does. Returns the account URL (the kid).
    /// </summary>
    public async Task<string> RegisterAsync(AcmeAccountKey key, string? email, CancellationToken ct)
    {
        var directory = await DirectoryAsync(ct);
        var payload = Json(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("termsOfServiceAgreed", true);
            if (!string.IsNullOrEmpty(email))
            {
                w.WriteStartArray("contact");
                w.WriteStringValue("mailto:" + email);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
        using var answer = await PostAsync(key, null, directory.NewAccount.AbsoluteUri, payload, "creating the account", ct);
        return answer.Headers.Location?.AbsoluteUri ?? throw new AcmeException("the ACME server created the account but sent no Location");
    }

    public async Task<AcmeOrder> NewOrderAsync(AcmeAccountKey key, string kid, IReadOnlyList<string> domains, CancellationToken ct)
    {
        var directory = await DirectoryAsync(ct);
        var payload = Json(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("identifiers");
            foreach (var domain in domains)
            {
                w.WriteStartObject();
                w.WriteString("type", "dns");
                w.WriteString("value", domain);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        using var answer = await PostAsync(key, kid, directory.NewOrder.AbsoluteUri, payload, "creating the order", ct);
        var url = answer.Headers.Location?.AbsoluteUri ?? throw new AcmeException("the ACME server created the order but sent no Location");
        return ReadOrder(url, await ReadJsonAsync(answer, "the order", ct));
    }

    public async Task<AcmeOrder> OrderAsync(AcmeAccountKey key, string kid, string orderUrl, CancellationToken ct)
    {
        using var answer = await PostAsync(key, kid, orderUrl, null, "reading the order", ct);
        return ReadOrder(orderUrl, await ReadJsonAsync(answer, "the order", ct));
    }

    public async Task<AcmeAuthorization> AuthorizationAsync(AcmeAccountKey key, string kid, string url, CancellationToken ct)
    {
        using var answer = await PostAsync(key, kid, url, null, "reading the authorization", ct);
        var root = await ReadJsonAsync(answer, "the authorization", ct);
        var challenges = new List<AcmeChallenge>();
        if (root.TryGetProperty("challenges", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in list.EnumerateArray())
                challenges.Add(new AcmeChallenge(Text(c, "type") ?? "", Text(c, "url") ?? "", Text(c, "token") ?? "", Text(c, "status") ?? "", Problem(c)));
        }
        var domain = root.TryGetProperty("identifier", out var id) ? Text(id, "value") : null;
        return new AcmeAuthorization(url, domain ?? throw new AcmeException("the authorization names no identifier"), Text(root, "status") ?? "",
            root.TryGetProperty("wildcard", out var w) && w.ValueKind == JsonValueKind.True, challenges, Problem(root));
    }

    /// <summary>Tells the server the challenge is ready to be validated (§7.5.1: an empty JSON object).</summary>
    public async Task RespondAsync(AcmeAccountKey key, string kid, string challengeUrl, CancellationToken ct)
    {
        using var _ = await PostAsync(key, kid, challengeUrl, "{}"u8.ToArray(), "answering the challenge", ct);
    }

    public async Task<AcmeOrder> FinalizeAsync(AcmeAccountKey key, string kid, AcmeOrder order, byte[] csrDer, CancellationToken ct)
    {
        var payload = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("csr", System.Buffers.Text.Base64Url.EncodeToString(csrDer));
            w.WriteEndObject();
        });
        using var answer = await PostAsync(key, kid, order.Finalize, payload, "finalizing the order", ct);
        return ReadOrder(order.Url, await ReadJsonAsync(answer, "the order", ct));
    }

    /// <summary>The certificate chain, PEM (application/pem-certificate-chain, §7.4.2): the leaf first.</summary>
    public async Task<string> CertificateAsync(AcmeAccountKey key, string kid, string url, CancellationToken ct)
    {
        using var answer = await PostAsync(key, kid, url, null, "downloading the certificate", ct, "application/pem-certificate-chain");
        return await answer.Content.ReadAsStringAsync(ct);
    }

    private async Task<HttpResponseMessage> PostAsync(AcmeAccountKey key, string? kid, string url, byte[]? payload, string what, CancellationToken ct, string accept = "application/json")
    {
        for (var attempt = 0; ; attempt++)
        {
            var nonce = await NonceAsync(ct);
            var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = new ByteArrayContent(key.Sign(url, nonce, kid, payload ?? [], postAsGet: payload is null)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/jose+json");
            request.Headers.Accept.ParseAdd(accept);
            try
            {
                return await SendAsync(request, what, ct);
            }
            catch (AcmeException e) when (e.ProblemType == AcmeException.BadNonce && attempt < BadNonceRetries)
            {
                // The answer carried a fresh nonce (kept by SendAsync): sign again with it.
            }
        }
    }

    private async Task<string> NonceAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _nonce, null) is { } nonce) return nonce;
        var directory = await DirectoryAsync(ct);
        using var answer = await SendAsync(new HttpRequestMessage(HttpMethod.Head, directory.NewNonce), "getting a nonce", ct);
        return Interlocked.Exchange(ref _nonce, null) ?? throw new AcmeException("the ACME server's newNonce sent no Replay-Nonce");
    }

    /// <summary>Sends, keeps the answer's nonce, and turns an error answer into an <see cref="AcmeException"/> with the problem's detail.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken ct)
    {
        HttpResponseMessage answer;
        try
        {
            answer = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new AcmeException($"{what}: cannot reach the ACME server at {request.RequestUri?.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new AcmeException($"{what}: the ACME server at {request.RequestUri?.GetLeftPart(UriPartial.Authority)} did not answer within {_http.Timeout.TotalSeconds:0} s", e);
        }
        finally
        {
            request.Dispose();
        }
        if (answer.Headers.TryGetValues("Replay-Nonce", out var nonces) && nonces.FirstOrDefault() is { Length: > 0 } fresh) _nonce = fresh;
        if (answer.IsSuccessStatusCode) return answer;
        using (answer)
        {
            string? type = null, detail = null;
            try
            {
                using var doc = JsonDocument.Parse(await answer.Content.ReadAsByteArrayAsync(ct));
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    type = Text(doc.RootElement, "type");
                    detail = Text(doc.RootElement, "detail");
                }
            }
            catch (JsonException)
            {
                // Not a problem document: the status says enough.
            }
            throw new AcmeException($"{what}: the ACME server answered {(int)answer.StatusCode}{(detail is null ? "" : ": " + detail)}{(type is null ? "" : $" ({type})")}")
            {
                ProblemType = type,
            };
        }
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage answer, string what, CancellationToken ct)
    {
        try
        {
            using var doc = JsonDocument.Parse(await answer.Content.ReadAsByteArrayAsync(ct));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new AcmeException($"the ACME server sent {what} as something other than a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new AcmeException($"the ACME server sent {what} as invalid JSON: {e.Message}", e);
        }
    }

    private static AcmeOrder ReadOrder(string url, JsonElement root)
    {
        var authorizations = new List<string>();
        if (root.TryGetProperty("authorizations", out var list) && list.ValueKind == JsonValueKind.Array)
            authorizations.AddRange(list.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!));
        return new AcmeOrder(url, Text(root, "status") ?? "", authorizations,
            Text(root, "finalize") ?? throw new AcmeException("the order has no finalize URL"), Text(root, "certificate"), Problem(root));
    }

    private static Uri Url(JsonElement root, string name, string what) =>
        Text(root, name) is { } text && Uri.TryCreate(text, UriKind.Absolute, out var url) ? url : throw new AcmeException($"{what} has no {name} URL");

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>An embedded problem (an order's or challenge's <c>error</c>) as "detail (type)".</summary>
    private static string? Problem(JsonElement e) =>
        e.TryGetProperty("error", out var p) && p.ValueKind == JsonValueKind.Object ? $"{Text(p, "detail")} ({Text(p, "type")})" : null;

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose()
    {
        _http.Dispose();
        _directoryLock.Dispose();
    }
}
