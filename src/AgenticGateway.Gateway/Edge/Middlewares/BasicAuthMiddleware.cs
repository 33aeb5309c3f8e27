using System.Collections.Frozen;
using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>basicAuth</c>: users from <c>users</c> and <c>usersFile</c> (htpasswd lines; <c>users</c> wins for a name
/// in both), checked against the request's Basic credentials. A refusal is Traefik's: 401, WWW-Authenticate with the
/// <c>realm</c> ("traefik" by default), "401 Unauthorized". On success <c>headerField</c> carries the user name upstream and
/// <c>removeHeader</c> drops the Authorization header. An unknown user costs a hash check too, so timing does not tell
/// which names exist.
/// </summary>
internal sealed class BasicAuthMiddleware : IEdgeMiddlewareType
{
    public string Name => "basicAuth";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var usersList = options.Strings("users");
        var usersFile = options.String("usersFile") ?? "";
        var realm = options.String("realm") is { Length: > 0 } r ? r : "traefik";
        var headerField = options.String("headerField") ?? "";
        var removeHeader = options.Bool("removeHeader") ?? false;
        options.ReportUnknown();

        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        if (usersFile.Length > 0 && !HtpasswdFile.TryRead(options, "usersFile", usersFile, users)) return null;
        var ok = true;
        for (var i = 0; i < usersList.Length; i++)
            ok &= HtpasswdFile.TryAdd(options, $"{EdgeNode.ChildPath(options.Path, "users")}[{i}]", usersList[i].Trim(), users);
        if (!ok) return null;
        if (users.Count == 0)
        {
            options.Error(options.Path, usersFile.Length > 0 ? $"no users found in {usersFile}" : "no users: set users or usersFile");
            return null;
        }
        var byName = users.ToFrozenDictionary(StringComparer.Ordinal);
        var decoy = users.Values.First();
        var challenge = $"Basic realm=\"{realm}\"";
        return next => http =>
        {
            var authenticated = false;
            if (TryReadCredentials(http.Request, out var user, out var password))
            {
                // An unknown user is checked against a real hash, and then refused, so both take a hash check's time.
                var known = byName.TryGetValue(user, out var hash);
                authenticated = HtpasswdHashes.Verify(password, known ? hash! : decoy) && known;
            }
            if (!authenticated)
            {
                var response = http.Response;
                response.StatusCode = StatusCodes.Status401Unauthorized;
                response.Headers.ContentType = "text/plain";
                response.Headers.WWWAuthenticate = challenge;
                return response.WriteAsync("401 Unauthorized\n", http.RequestAborted);
            }
            if (http.Edge() is { } edge) edge.User = user;
            if (headerField.Length > 0) http.Request.Headers[headerField] = user;
            if (removeHeader) http.Request.Headers.Authorization = default;
            return next(http);
        };
    }

    /// <summary>Go's Request.BasicAuth: "Basic " (any case), standard base64, user and password split at the first colon.</summary>
    private static bool TryReadCredentials(HttpRequest request, out string user, out string password)
    {
        user = password = "";
        var header = request.Headers.Authorization;
        if (header.Count == 0 || header[0] is not { } value || value.Length < 6 || !value.AsSpan(0, 6).Equals("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        var encoded = value.AsSpan(6);
        var buffer = new byte[encoded.Length];
        if (!Convert.TryFromBase64Chars(encoded, buffer, out var length)) return false;
        var text = Encoding.UTF8.GetString(buffer, 0, length);
        var colon = text.IndexOf(':');
        if (colon < 0) return false;
        user = text[..colon];
        password = text[(colon + 1)..];
        return true;
    }
}

/// <summary>htpasswd lines ("name:hash") from a list or a file: blank lines and "#" comments skipped, as Traefik reads them.</summary>
internal static class HtpasswdFile
{
    /// <summary>Caps a users file, which is read whole at build time.</summary>
    private const long MaxFileBytes = 4 * 1024 * 1024;

    public static bool TryRead(EdgeOptions options, string key, string path, Dictionary<string, string> users)
    {
        var at = EdgeNode.ChildPath(options.Path, key);
        string[] lines;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxFileBytes) { options.Error(at, $"{path} is larger than {MaxFileBytes / 1024 / 1024} MiB"); return false; }
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            options.Error(at, $"cannot read {path}: {e.Message}");
            return false;
        }
        var ok = true;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            ok &= TryAdd(options, $"{at} ({path}:{i + 1})", line, users);
        }
        return ok;
    }

    public static bool TryAdd(EdgeOptions options, string at, string entry, Dictionary<string, string> users)
    {
        var parts = entry.Split(':');
        if (parts.Length != 2 || parts[0].Length == 0)
        {
            // The entry holds a password hash: say what is wrong without repeating it.
            options.Error(at, "expected name:hashed-password (one colon; hash with htpasswd: apr1, bcrypt or SHA1)");
            return false;
        }
        users[parts[0]] = parts[1];
        return true;
    }
}
