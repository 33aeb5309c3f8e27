using System.Text;

namespace AgenticGateway.GuestAgent.Protocol;

/// <summary>Text that goes into events: valid UTF-16 only (a lone surrogate would make the line invalid UTF-8; it becomes '?').</summary>
internal static class Text
{
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static string Safe(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsSurrogate(s[i]) && !(char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])))
                return Repair(s);
            if (char.IsHighSurrogate(s[i])) i++;
        }
        return s;
    }

    private static string Repair(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { sb.Append(c).Append(s[++i]); }
            else sb.Append(char.IsSurrogate(c) ? '?' : c);
        }
        return sb.ToString();
    }
}
