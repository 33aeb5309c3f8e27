using System.Collections.Frozen;
using System.Net;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// LiteLLM's <c>presidio</c> guardrail answered in-process: Presidio's entity names, each found by a format and kept only
/// when its check passes (Luhn for cards, ISO 13616 mod 97 for IBANs, mod 11 for NHS numbers, the check letter of Spanish
/// and Italian ids, the SSA's never-issued SSN ranges, ...). As in Presidio a validated match scores 1.0 and an
/// unvalidated format its pattern score, so <c>presidio_score_thresholds</c> keeps its meaning. Masks as Presidio's
/// anonymizer does: <c>&lt;ENTITY_TYPE&gt;</c>.
/// </summary>
internal sealed partial class PiiDetector : ITextDetector, IKnowsKinds
{
    internal delegate bool Validator(ReadOnlySpan<char> match);

    internal sealed record Recognizer(string Entity, Regex Regex, int MaxLength, double Score, Validator? Validate);

    private readonly string _guardrail;
    private readonly (Recognizer Recognizer, GuardrailAction Action, double Threshold)[] _active;
    private readonly string[] _allow;

    public PiiDetector(string guardrailName, PresidioSettings settings)
    {
        _guardrail = guardrailName;
        settings.ScoreThresholds.TryGetValue("ALL", out var all);
        var active = new List<(Recognizer, GuardrailAction, double)>();
        foreach (var r in All)
        {
            GuardrailAction action;
            if (settings.Entities.IsEmpty) action = GuardrailAction.Mask;
            else if (settings.Entities.TryGetValue(r.Entity, out var a)) action = a == GuardrailItemAction.Block ? GuardrailAction.Block : GuardrailAction.Mask;
            else continue;
            var threshold = settings.ScoreThresholds.TryGetValue(r.Entity, out var t) ? t : all;
            // A recogniser whose best score is under the threshold could never report: leave it out.
            if (r.Score < threshold) continue;
            active.Add((r, action, threshold));
        }
        _active = [.. active];
        _allow = [.. settings.PhraseAllowList];
        MaxMatchLength = _active.Length == 0 ? 1 : _active.Max(a => a.Recognizer.MaxLength);
    }

    public int MaxMatchLength { get; }

    public IEnumerable<string> Kinds => _active.Select(a => a.Recognizer.Entity);

    public bool Owns(string kind) => PresidioSettings.SupportedEntities.Contains(kind);

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings)
    {
        var first = findings.Count;
        foreach (var (r, action, _) in _active)
        {
            var at = 0;
            while (at <= text.Length)
            {
                var matches = r.Regex.EnumerateMatches(text, at);
                if (!matches.MoveNext()) break;
                var m = matches.Current;
                var match = text.Slice(m.Index, m.Length);
                // A candidate that fails its check (or is already another entity) must not hide a shorter one starting
                // inside it: the search resumes one character on, not after it. This also makes the findings depend only
                // on the text from where a scan starts, so a stream scanned piece by piece finds what the whole text has.
                if ((r.Validate is { } validate && !validate(match)) || Allowed(match) || Overlaps(findings, first, m.Index, m.Length))
                {
                    at = m.Index + 1;
                    continue;
                }
                findings.Add(new TextFinding(r.Entity, m.Index, m.Length, action));
                at = m.Index + Math.Max(m.Length, 1);
            }
        }
    }

    private static bool Overlaps(List<TextFinding> findings, int from, int start, int length)
    {
        for (var i = from; i < findings.Count; i++)
        {
            var f = findings[i];
            if (start < f.Start + f.Length && f.Start < start + length) return true;
        }
        return false;
    }

    private bool Allowed(ReadOnlySpan<char> match)
    {
        foreach (var phrase in _allow)
            if (match.Equals(phrase, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    public string MaskText(in TextFinding finding) => $"<{finding.Kind}>";

    /// <summary>LiteLLM's BlockedPiiEntityError text.</summary>
    public string BlockMessage(in TextFinding finding) => $"Blocked PII entity detected: {finding.Kind} by Guardrail: {_guardrail}.";

    /// <summary>Every local recogniser; a test checks this covers <see cref="PresidioSettings.SupportedEntities"/>.</summary>
    internal static readonly Recognizer[] All =
    [
        new("EMAIL_ADDRESS", Email(), 320, 1.0, null),
        new("CREDIT_CARD", CreditCard(), 23, 1.0, Checks.CreditCard),
        new("IBAN_CODE", Iban(), 42, 1.0, Checks.Iban),
        new("US_SSN", UsSsn(), 11, 0.5, Checks.UsSsn),
        new("US_ITIN", UsItin(), 11, 0.5, null),
        new("UK_NHS", UkNhs(), 12, 1.0, Checks.UkNhs),
        new("UK_NINO", UkNino(), 13, 0.5, Checks.UkNino),
        new("ES_NIF", EsNif(), 10, 1.0, Checks.EsNif),
        new("ES_NIE", EsNie(), 11, 1.0, Checks.EsNie),
        new("IT_FISCAL_CODE", ItFiscalCode(), 16, 1.0, Checks.ItFiscalCode),
        new("IN_PAN", InPan(), 10, 0.5, null),
        new("SG_NRIC_FIN", SgNric(), 9, 1.0, Checks.SgNric),
        new("AU_TFN", AuTfn(), 11, 1.0, Checks.AuTfn),
        new("AU_ABN", AuAbn(), 14, 1.0, Checks.AuAbn),
        new("PL_PESEL", PlPesel(), 11, 1.0, Checks.PlPesel),
        new("FI_PERSONAL_IDENTITY_CODE", FiPic(), 11, 1.0, Checks.FiPic),
        new("IP_ADDRESS", Ipv4(), 15, 0.6, null),
        new("IP_ADDRESS", Ipv6(), 45, 0.6, Checks.Ipv6),
        new("MAC_ADDRESS", Mac(), 17, 0.5, null),
        new("URL", Url(), 512, 0.5, null),
        new("PHONE_NUMBER", Phone(), 24, 0.4, Checks.Phone),
    ];

    internal static readonly FrozenSet<string> Entities = All.Select(r => r.Entity).ToFrozenSet(StringComparer.Ordinal);

    [GeneratedRegex(@"\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Email();
    [GeneratedRegex(@"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])", RegexOptions.CultureInvariant)]
    private static partial Regex CreditCard();
    [GeneratedRegex(@"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Iban();
    [GeneratedRegex(@"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{3}\.\d{2}\.\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UsSsn();
    [GeneratedRegex(@"\b9\d{2}[- ]?(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])[- ]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UsItin();
    [GeneratedRegex(@"\b\d{3}[- ]?\d{3}[- ]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UkNhs();
    [GeneratedRegex(@"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", RegexOptions.CultureInvariant)]
    private static partial Regex UkNino();
    [GeneratedRegex(@"\b\d{8}-?[A-Z]\b", RegexOptions.CultureInvariant)]
    private static partial Regex EsNif();
    [GeneratedRegex(@"\b[XYZ]-?\d{7}-?[A-Z]\b", RegexOptions.CultureInvariant)]
    private static partial Regex EsNie();
    [GeneratedRegex(@"\b[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex ItFiscalCode();
    [GeneratedRegex(@"\b[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]\b", RegexOptions.CultureInvariant)]
    private static partial Regex InPan();
    [GeneratedRegex(@"\b[STFG]\d{7}[A-Z]\b", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex SgNric();
    [GeneratedRegex(@"\b\d{3} ?\d{3} ?\d{3}\b", RegexOptions.CultureInvariant)]
    private static partial Regex AuTfn();
    [GeneratedRegex(@"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b", RegexOptions.CultureInvariant)]
    private static partial Regex AuAbn();
    [GeneratedRegex(@"\b\d{11}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PlPesel();
    [GeneratedRegex(@"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b", RegexOptions.CultureInvariant)]
    private static partial Regex FiPic();
    [GeneratedRegex(@"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4();
    [GeneratedRegex(@"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv6();
    [GeneratedRegex(@"\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b|\b[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Mac();
    [GeneratedRegex(@"\b(?:https?://|www\.)[^\s<>""']{1,500}[^\s<>""'.,;:!?)\]]", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Url();
    [GeneratedRegex(@"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)", RegexOptions.CultureInvariant)]
    private static partial Regex Phone();

    /// <summary>The validity checks of each identifier (each ignores separators).</summary>
    internal static class Checks
    {
        private static int Digits(ReadOnlySpan<char> s, Span<int> into)
        {
            var n = 0;
            foreach (var c in s)
            {
                if (c is >= '0' and <= '9') { if (n == into.Length) return -1; into[n++] = c - '0'; }
            }
            return n;
        }

        public static bool Luhn(ReadOnlySpan<int> d)
        {
            var sum = 0;
            for (var i = 0; i < d.Length; i++)
            {
                var v = d[d.Length - 1 - i];
                if (i % 2 == 1) { v *= 2; if (v > 9) v -= 9; }
                sum += v;
            }
            return sum % 10 == 0;
        }

        public static bool CreditCard(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[19];
            var n = Digits(s, d);
            if (n is < 13 or > 19) return false;
            var digits = d[..n];
            // Cards start with 2-6 (Mastercard 2-series, Amex/Diners 3, Visa 4, Mastercard 5, Discover 6); one repeated digit is no card.
            if (digits[0] is < 2 or > 6) return false;
            var same = true;
            foreach (var x in digits) same &= x == digits[0];
            return !same && Luhn(digits);
        }

        public static bool Iban(ReadOnlySpan<char> s)
        {
            Span<char> c = stackalloc char[34];
            var n = 0;
            foreach (var ch in s)
            {
                if (ch == ' ') continue;
                if (n == c.Length) return false;
                c[n++] = ch;
            }
            if (n < 15) return false;
            // ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 must be 1.
            var rem = 0;
            for (var i = 0; i < n; i++)
            {
                var ch = c[(i + 4) % n];
                if (ch is >= '0' and <= '9') rem = (rem * 10 + (ch - '0')) % 97;
                else if (ch is >= 'A' and <= 'Z') rem = (rem * 100 + (ch - 'A' + 10)) % 97;
                else return false;
            }
            return rem == 1;
        }

        public static bool UsSsn(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[9];
            if (Digits(s, d) != 9) return false;
            var area = d[0] * 100 + d[1] * 10 + d[2];
            var group = d[3] * 10 + d[4];
            var serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
            // Never issued (SSA): area 000, 666 and 900-999, group 00, serial 0000; and the well-known samples.
            if (area is 0 or 666 || area >= 900 || group == 0 || serial == 0) return false;
            var same = true;
            foreach (var x in d) same &= x == d[0];
            return !same && !(area == 123 && group == 45 && serial == 6789) && !(area == 78 && group == 5 && serial == 1120);
        }

        public static bool UkNhs(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[10];
            if (Digits(s, d) != 10) return false;
            var sum = 0;
            for (var i = 0; i < 9; i++) sum += d[i] * (10 - i);
            var check = 11 - sum % 11;
            if (check == 11) check = 0;
            return check != 10 && check == d[9];
        }

        public static bool UkNino(ReadOnlySpan<char> s)
        {
            // Prefixes never allocated (HMRC): BG, GB, NK, KN, TN, NT, ZZ.
            var p = string.Concat(s[0], s[1]);
            return p is not ("BG" or "GB" or "NK" or "KN" or "TN" or "NT" or "ZZ");
        }

        private const string NifLetters = "TRWAGMYFPDXBNJZSQVHLCKE";

        public static bool EsNif(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[8];
            if (Digits(s, d) != 8) return false;
            var n = 0;
            foreach (var x in d) n = n * 10 + x;
            return NifLetters[n % 23] == s[^1];
        }

        public static bool EsNie(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[7];
            if (Digits(s, d) != 7) return false;
            var n = s[0] - 'X';
            foreach (var x in d) n = n * 10 + x;
            return NifLetters[n % 23] == s[^1];
        }

        // Values of a character in an odd (1st, 3rd, ...) position of a codice fiscale: 0/A..9/J, then K..Z.
        private static readonly int[] OddValues = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

        public static bool ItFiscalCode(ReadOnlySpan<char> s)
        {
            var sum = 0;
            for (var i = 0; i < 15; i++)
            {
                var c = char.ToUpperInvariant(s[i]);
                var v = c is >= '0' and <= '9' ? c - '0' : c - 'A';
                sum += i % 2 == 0 ? OddValues[v] : v;
            }
            return (char)('A' + sum % 26) == char.ToUpperInvariant(s[15]);
        }

        private static readonly int[] NricWeights = [2, 7, 6, 5, 4, 3, 2];

        public static bool SgNric(ReadOnlySpan<char> s)
        {
            var prefix = char.ToUpperInvariant(s[0]);
            var sum = prefix is 'T' or 'G' ? 4 : 0;
            for (var i = 0; i < 7; i++) sum += (s[i + 1] - '0') * NricWeights[i];
            var letters = prefix is 'S' or 'T' ? "JZIHGFEDCBA" : "XWUTRQPNMLK";
            return letters[sum % 11] == char.ToUpperInvariant(s[8]);
        }

        private static readonly int[] TfnWeights = [1, 4, 3, 7, 5, 8, 6, 9, 10];

        public static bool AuTfn(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[9];
            if (Digits(s, d) != 9) return false;
            var sum = 0;
            for (var i = 0; i < 9; i++) sum += d[i] * TfnWeights[i];
            return sum % 11 == 0 && sum > 0;
        }

        private static readonly int[] AbnWeights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];

        public static bool AuAbn(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[11];
            if (Digits(s, d) != 11) return false;
            d[0] -= 1;
            var sum = 0;
            for (var i = 0; i < 11; i++) sum += d[i] * AbnWeights[i];
            return sum % 89 == 0 && d[0] >= 0;
        }

        private static readonly int[] PeselWeights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

        public static bool PlPesel(ReadOnlySpan<char> s)
        {
            Span<int> d = stackalloc int[11];
            if (Digits(s, d) != 11) return false;
            var month = (d[2] * 10 + d[3]) % 20;
            var day = d[4] * 10 + d[5];
            if (month is < 1 or > 12 || day is < 1 or > 31) return false;
            var sum = 0;
            for (var i = 0; i < 10; i++) sum += d[i] * PeselWeights[i];
            return (10 - sum % 10) % 10 == d[10];
        }

        private const string FiCheck = "0123456789ABCDEFHJKLMNPRSTUVWXY";

        public static bool FiPic(ReadOnlySpan<char> s)
        {
            var day = (s[0] - '0') * 10 + (s[1] - '0');
            var month = (s[2] - '0') * 10 + (s[3] - '0');
            if (day is < 1 or > 31 || month is < 1 or > 12) return false;
            long n = 0;
            for (var i = 0; i < 6; i++) n = n * 10 + (s[i] - '0');
            for (var i = 7; i < 10; i++) n = n * 10 + (s[i] - '0');
            return FiCheck[(int)(n % 31)] == s[10];
        }

        public static bool Ipv6(ReadOnlySpan<char> s) =>
            s.Count(':') >= 2 && s.ContainsAnyExcept(':') && IPAddress.TryParse(s, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

        public static bool Phone(ReadOnlySpan<char> s)
        {
            // E.164 numbers have 8 to 15 digits; a phone number is written with a + or separators (a bare run of digits is
            // more often an order number or an amount).
            Span<int> d = stackalloc int[24];
            var n = Digits(s, d);
            if (n is < 8 or > 15) return false;
            return s[0] == '+' || s.IndexOfAny(" .-()") >= 0;
        }
    }
}
