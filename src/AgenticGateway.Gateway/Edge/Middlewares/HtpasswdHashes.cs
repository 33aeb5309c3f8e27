using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The password hashes of an htpasswd file, as Traefik checks them: bcrypt (<c>$2a$</c>, <c>$2b$</c>, <c>$2x$</c>,
/// <c>$2y$</c>), SHA-1 (<c>{SHA}</c> and base64), and otherwise MD5-crypt with the hash's own magic (<c>$apr1$</c>,
/// Apache's default, or <c>$1$</c>). Plain-text passwords are not accepted, as in Traefik. Comparisons take the same time
/// wherever the first difference is.
/// </summary>
internal static class HtpasswdHashes
{
    private const string Itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static bool Verify(string password, string hash)
    {
        if (hash.StartsWith("$2a$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal) ||
            hash.StartsWith("$2x$", StringComparison.Ordinal) || hash.StartsWith("$2y$", StringComparison.Ordinal))
        {
            try { return BCrypt.Net.BCrypt.Verify(password, hash); }
            catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException) { return false; }
        }
        if (hash.StartsWith("{SHA}", StringComparison.Ordinal))
        {
            var digest = Convert.ToBase64String(SHA1.HashData(Encoding.UTF8.GetBytes(password)));
            return FixedTimeEquals(hash.AsSpan(5), digest);
        }
        var parts = hash.Split('$', 4);
        if (parts.Length != 4) return false;
        return FixedTimeEquals(hash, Md5Crypt(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(parts[2]), "$" + parts[1] + "$"));
    }

    /// <summary>
    /// MD5-crypt (Poul-Henning Kamp's algorithm; Apache's apr1 is the same with the magic "$apr1$"): a thousand rounds
    /// of MD5 over the password and salt, the digest written in crypt's base-64 alphabet in its own byte order.
    /// </summary>
    public static string Md5Crypt(byte[] password, byte[] salt, string magic)
    {
        var magicBytes = Encoding.ASCII.GetBytes(magic);
        var alternate = MD5.HashData([.. password, .. salt, .. password]);
        var context = new List<byte>(password.Length * 2 + magicBytes.Length + salt.Length + 16);
        context.AddRange(password);
        context.AddRange(magicBytes);
        context.AddRange(salt);
        for (var left = password.Length; left > 0; left -= 16) context.AddRange(alternate.AsSpan(0, Math.Min(16, left)));
        // Odd as it is, the algorithm mixes in a zero byte or the password's first byte for each bit of its length.
        for (var bits = password.Length; bits != 0; bits >>= 1) context.Add((bits & 1) != 0 ? (byte)0 : password.Length > 0 ? password[0] : (byte)0);
        var final = MD5.HashData(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(context));

        var round = new List<byte>(password.Length * 3 + salt.Length + 32);
        for (var i = 0; i < 1000; i++)
        {
            round.Clear();
            if ((i & 1) != 0) round.AddRange(password); else round.AddRange(final);
            if (i % 3 != 0) round.AddRange(salt);
            if (i % 7 != 0) round.AddRange(password);
            if ((i & 1) != 0) round.AddRange(final); else round.AddRange(password);
            final = MD5.HashData(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(round));
        }

        var output = new StringBuilder(magic.Length + salt.Length + 23);
        output.Append(magic).Append(Encoding.UTF8.GetString(salt)).Append('$');
        To64(output, (final[0] << 16) | (final[6] << 8) | final[12], 4);
        To64(output, (final[1] << 16) | (final[7] << 8) | final[13], 4);
        To64(output, (final[2] << 16) | (final[8] << 8) | final[14], 4);
        To64(output, (final[3] << 16) | (final[9] << 8) | final[15], 4);
        To64(output, (final[4] << 16) | (final[10] << 8) | final[5], 4);
        To64(output, final[11], 2);
        return output.ToString();
    }

    private static void To64(StringBuilder output, int value, int count)
    {
        for (; count > 0; count--, value >>= 6) output.Append(Itoa64[value & 0x3F]);
    }

    private static bool FixedTimeEquals(ReadOnlySpan<char> a, ReadOnlySpan<char> b) =>
        CryptographicOperations.FixedTimeEquals(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a), System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));
}
