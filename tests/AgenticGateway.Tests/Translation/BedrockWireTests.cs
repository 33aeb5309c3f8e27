using System.Buffers;
using System.Text;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Tests.Translation;

/// <summary>The Bedrock wire pieces on their own: SigV4 against AWS's published vectors, the event-stream framing, CRC-32.</summary>
[Trait("Category", "unit")]
public class BedrockWireTests
{
    private static readonly AwsCredentials SuiteCredentials = new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null);
    private static readonly DateTimeOffset SuiteTime = new(2015, 8, 30, 12, 36, 0, TimeSpan.Zero);
    private const string EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>
    /// Cases of the AWS Signature Version 4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
    /// as carried by aws-sdk-js-v3's signature-v4 suite fixture): region us-east-1, service "service", 2015-08-30T12:36:00Z.
    /// </summary>
    [Theory]
    [InlineData("get-vanilla", "GET", "/", "", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")]
    [InlineData("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", "", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")]
    [InlineData("get-vanilla-query-unreserved", "GET", "/", "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")]
    [InlineData("get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", "", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")]
    [InlineData("get-utf8", "GET", "/ሴ", "", "", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")]
    [InlineData("get-vanilla-utf8-query", "GET", "/", "%E1%88%B4=bar", "", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")]
    [InlineData("post-vanilla", "POST", "/", "", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")]
    [InlineData("post-vanilla-query", "POST", "/", "Param1=value1", "", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")]
    [InlineData("post-header-value-case", "POST", "/", "", "my-header1:VALUE1", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")]
    [InlineData("get-header-value-trim", "GET", "/", "", "my-header1:value1|my-header2:\"a   b   c\"", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")]
    [InlineData("get-header-key-duplicate", "GET", "/", "", "my-header1:value2,value2,value1", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")]
    [InlineData("post-x-www-form-urlencoded", "POST", "/", "", "content-type:application/x-www-form-urlencoded", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")]
    public void SigV4_matches_the_aws_test_suite(string name, string method, string path, string query, string extraHeaders, string signature)
    {
        var headers = new List<KeyValuePair<string, string>> { new("host", "example.amazonaws.com"), new("x-amz-date", "20150830T123600Z") };
        foreach (var h in extraHeaders.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = h.IndexOf(':');
            headers.Add(new(h[..colon], h[(colon + 1)..]));
        }
        var payloadHash = name.StartsWith("post-x-www", StringComparison.Ordinal) ? SigV4Signer.HexSha256("Param1=value1"u8) : EmptyHash;
        var authorization = SigV4Signer.Authorization(method, path, query, headers, payloadHash, SuiteCredentials, "us-east-1", "service", SuiteTime);
        Assert.EndsWith("Signature=" + signature, authorization, StringComparison.Ordinal);
        Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=", authorization, StringComparison.Ordinal);
    }

    [Fact]
    public void Canonical_uri_double_encodes_model_ids_as_aws_sdks_do()
    {
        var uri = BedrockTranslator.OperationUri(new Uri("https://bedrock-runtime.us-east-1.amazonaws.com/"), "arn:aws:bedrock:us-east-1:1:application-inference-profile/x y", "converse");
        Assert.Equal("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fx%20y/converse", uri.AbsolutePath);
        Assert.Equal("/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A1%253Aapplication-inference-profile%252Fx%2520y/converse", SigV4Signer.CanonicalUri(uri.AbsolutePath));
    }

    /// <summary>The event-stream's CRC is CRC-32 (IEEE, reflected 0xEDB88320): the library's must give its check value.</summary>
    [Fact]
    public void The_framing_crc_is_crc32_ieee_with_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, System.IO.Hashing.Crc32.HashToUInt32("123456789"u8));
        var frame = EventStreamMessage.Event("messageStop", "{}"u8);
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(frame.AsSpan(0, 8)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(8)));
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(frame.AsSpan(0, frame.Length - 4)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(frame.Length - 4)));
    }

    /// <summary>A frame assembled byte by byte from AWS's documented layout: the encoder must produce exactly it.</summary>
    [Fact]
    public void Encoder_matches_a_frame_built_by_hand()
    {
        var frame = new List<byte>();
        frame.AddRange([0, 0, 0, 118]);                    // total length: 12 prelude + 82 headers + 20 payload + 4 CRC
        frame.AddRange([0, 0, 0, 82]);                     // headers length
        frame.AddRange([0x96, 0xD5, 0xFA, 0xDE]);          // CRC-32 of the 8 bytes above
        void Header(string name, string value)
        {
            frame.Add((byte)name.Length);
            frame.AddRange(Encoding.ASCII.GetBytes(name));
            frame.Add(7);                                  // value type 7: string
            frame.AddRange([(byte)(value.Length >> 8), (byte)value.Length]);
            frame.AddRange(Encoding.ASCII.GetBytes(value));
        }
        Header(":event-type", "messageStart");
        Header(":content-type", "application/json");
        Header(":message-type", "event");
        frame.AddRange("{\"role\":\"assistant\"}"u8.ToArray());
        frame.AddRange([0x6F, 0xA8, 0xC5, 0x99]);          // CRC-32 of everything before
        var expected = frame.ToArray();

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(EventStreamMessage.Event("messageStart", "{\"role\":\"assistant\"}"u8)));
        var decoded = EventStreamMessage.Decode(expected);
        Assert.Equal("messageStart", decoded.Header(":event-type"));
        Assert.Equal("event", decoded.Header(":message-type"));
        Assert.Equal("{\"role\":\"assistant\"}", Encoding.UTF8.GetString(decoded.Payload));
    }

    [Fact]
    public void Decoder_rejects_a_corrupted_frame()
    {
        var frame = EventStreamMessage.Event("messageStart", "{\"role\":\"assistant\"}"u8);
        var payloadByte = frame.Length - 6;
        frame[payloadByte] ^= 0x01;
        Assert.Throws<InvalidDataException>(() => new EventStreamDecoder().Feed(frame));
        var prelude = EventStreamMessage.Event("messageStart", "{}"u8);
        prelude[3] ^= 0x01;
        Assert.Throws<InvalidDataException>(() => new EventStreamDecoder().Feed(prelude));
    }

    [Fact]
    public void A_stream_cut_inside_a_frame_or_before_message_stop_is_an_error()
    {
        var call = BedrockGoldenTests.Call(new System.Text.Json.Nodes.JsonObject { ["stream"] = true });
        var translator = new BedrockTranslator();
        var start = EventStreamMessage.Event("messageStart", "{\"role\":\"assistant\"}"u8);
        var output = new ArrayBufferWriter<byte>();

        var cut = translator.CreateChatStream(call);
        cut.Feed(start.AsSpan(0, start.Length - 3), output);
        Assert.Throws<InvalidDataException>(() => cut.Complete(output));

        var early = translator.CreateChatStream(call);
        early.Feed(start, output);
        Assert.Throws<InvalidDataException>(() => early.Complete(output));
    }

    [Fact]
    public async Task Missing_credentials_are_reported_not_sent_unsigned()
    {
        var call = BedrockGoldenTests.Call(new System.Text.Json.Nodes.JsonObject());
        call = call with { Deployment = call.Deployment with { Cloud = new AgenticGateway.Configuration.CloudOptions { AwsRegion = "us-east-1" } } };
        var result = await new BedrockTranslator().BuildChatRequestAsync("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray(), call, CancellationToken.None);
        Assert.Null(result.Request);
        Assert.Equal("bedrock_credentials_missing", result.Error!.Code);
    }

    [Theory]
    [InlineData("https://bedrock-runtime.eu-central-1.amazonaws.com", "eu-central-1")]
    [InlineData("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1")]
    [InlineData("http://127.0.0.1:8080", null)]
    public void Region_is_read_from_a_bedrock_runtime_host(string apiBase, string? region) =>
        Assert.Equal(region, BedrockTranslator.RegionFromHost(new Uri(apiBase)));

    [Fact]
    public void Provider_stream_exception_keeps_output_before_it()
    {
        var call = BedrockGoldenTests.Call(new System.Text.Json.Nodes.JsonObject { ["stream"] = true });
        var stream = new BedrockTranslator().CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        stream.Feed(EventStreamMessage.Event("messageStart", "{\"role\":\"assistant\"}"u8), output);
        var ex = Assert.Throws<ProviderStreamException>(() => stream.Feed(EventStreamMessage.Exception("serviceUnavailableException", "{\"message\":\"Bedrock is unavailable\"}"u8), output));
        Assert.Equal(503, ex.Error.Status);
        Assert.Contains("\"role\":\"assistant\"", Encoding.UTF8.GetString(output.WrittenSpan), StringComparison.Ordinal);
    }
}
