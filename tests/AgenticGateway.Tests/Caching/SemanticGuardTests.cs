using System.Text;
using AgenticGateway.Caching;
using AgenticGateway.Emulator;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The semantic cache's pieces without a server: the false-hit guard, the request's semantic text (question and the
/// context that must be identical), the vector index (partitions, expiry, bounds) with its Redis encoding, and the
/// emulator's lexical embedding the tests and the bench measure with.
/// </summary>
[Trait("Category", "unit")]
public class SemanticGuardTests
{
    [Theory]
    [InlineData("Turn on the living room lights", "Turn off the living room lights", "polarity")]
    [InlineData("Should I enable two-factor authentication?", "Should I disable two-factor authentication?", "polarity")]
    [InlineData("Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?", "negation")]
    [InlineData("Why do cats purr?", "Why don't cats purr?", "negation")]
    [InlineData("Convert 5 miles to kilometers", "Convert 50 miles to kilometers", "number")]
    [InlineData("What is 12 times 7?", "What is twelve times 8?", "number")]
    [InlineData("What is the capital of France?", "What is the capital of Spain?", "name")]
    [InlineData("Summarise the history of NATO", "Summarise the history of OPEC", "name")]
    [InlineData("What does the `os.path.join` function do?", "What does the `os.path.split` function do?", "literal")]
    [InlineData("Who is the CEO of the company at https://example.com?", "Who is the CEO of the company at https://example.org?", "literal")]
    [InlineData("Sort the list in ascending order", "Sort the list in descending order", "polarity")]
    [InlineData("Convert 100 degrees Fahrenheit to Celsius", "Convert 100 degrees Celsius to Fahrenheit", "direction")]
    [InlineData("convert 5 miles to kilometers", "convert 5 kilometers to miles", "direction")]
    public void Refuses_questions_that_differ_in_what_matters(string a, string b, string reason)
    {
        Assert.Equal(reason, FalseHitGuard.Difference(a, b));
        Assert.Equal(reason, FalseHitGuard.Difference(b, a));
    }

    [Theory]
    [InlineData("What is the capital of France?", "what's France's capital")]
    [InlineData("Is Paris a big city?", "Paris: is it a big city?")]
    [InlineData("How do I reverse a string in Python?", "Reversing a string in Python: how do I do it?")]
    [InlineData("Don't use recursion to compute a factorial", "Do not use recursion to compute a factorial")]
    [InlineData("Explain 3 benefits of unit testing", "explain three benefits of unit testing")]
    [InlineData("How to reverse a string in Python?", "Could you tell me how to reverse a string in Python?")]
    [InlineData("Compare Python and JavaScript", "Compare JavaScript and Python")]
    public void Lets_rewordings_through(string a, string b) => Assert.Null(FalseHitGuard.Difference(a, b));

    [Fact]
    public void The_question_is_the_last_user_turn_and_the_rest_is_context()
    {
        var one = Chat("""{"model":"m","temperature":0.2,"user":"u1","metadata":{"a":1},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}""");
        var two = Chat("""{"metadata":{"b":2},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Tell me France's capital"}]}],"model":"m","user":"u2"}""");
        Assert.Equal("What is the capital of France?", one.Question);
        Assert.Equal("Tell me France's capital", two.Question);
        Assert.Equal(one.Context, two.Context);
        Assert.Equal(0.2, one.Temperature);
        Assert.False(one.HasTools);
        Assert.Equal(one.PromptText, SemanticText.Split(one.PromptText) is var (c, q) ? c + SemanticText.Separator + q : "");

        // Another system prompt, earlier turns, another stream flag or an image: another context, so never the same answer.
        Assert.NotEqual(one.Context, Chat("""{"model":"m","messages":[{"role":"system","content":"Answer in French."},{"role":"user","content":"What is the capital of France?"}]}""").Context);
        Assert.NotEqual(one.Context, Chat("""{"model":"m","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}""").Context);
        var image = Chat("""{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}]}""");
        Assert.Contains("a.png", image.Context);
    }

    [Theory]
    [InlineData("""{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"m","tool_choice":"auto","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"42"},{"role":"user","content":"and?"}]}""")]
    public void Tool_requests_are_marked(string body) => Assert.True(Chat(body).HasTools);

    [Fact]
    public void Anthropic_responses_and_completions_bodies_have_their_questions()
    {
        var messages = SemanticText.Of(LlmOperation.Messages, Encoding.UTF8.GetBytes("""{"model":"m","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"Hi there"}]}"""))!.Value;
        Assert.Equal("Hi there", messages.Question);
        Assert.Contains("system: Be brief.", messages.Context);
        var responses = SemanticText.Of(LlmOperation.Responses, Encoding.UTF8.GetBytes("""{"model":"m","instructions":"Be brief.","input":"Hi there"}"""))!.Value;
        Assert.Equal("Hi there", responses.Question);
        Assert.Equal("Hi there", SemanticText.Of(LlmOperation.Completions, Encoding.UTF8.GetBytes("""{"model":"m","prompt":"Hi there"}"""))!.Value.Question);
        Assert.Null(SemanticText.Of(LlmOperation.Embeddings, Encoding.UTF8.GetBytes("""{"model":"m","input":"Hi"}""")));
        Assert.Null(SemanticText.Of(LlmOperation.ChatCompletions, Encoding.UTF8.GetBytes("""{"model":"m","messages":[{"role":"assistant","content":"Hi"}]}""")));
    }

    private static SemanticText Chat(string body) => SemanticText.Of(LlmOperation.ChatCompletions, Encoding.UTF8.GetBytes(body))!.Value;

    private static float[] Embed(string text)
    {
        var v = new float[512];
        LexicalEmbedding.Fill(v, text);
        return v;
    }

    [Fact]
    public void The_lexical_embedding_puts_rewordings_close_and_other_topics_far()
    {
        var a = Embed("What is the capital of France?");
        Assert.True(VectorIndex.Dot(a, Embed("Tell me France's capital, please")) > 0.99);
        Assert.True(VectorIndex.Dot(a, Embed("How do I bake sourdough bread?")) < 0.2);
        Assert.True(VectorIndex.Dot(Embed("Turn on the lights"), Embed("Turn off the lights")) > 0.5, "near, as real embeddings are: the guard must tell them apart");
        Assert.Equal(a, Embed("What is the capital of France?"));
        Assert.Equal(1.0, VectorIndex.Dot(a, a), 4);
    }

    [Fact]
    public void The_index_searches_one_partition_and_model_and_drops_expired_prompts()
    {
        var index = new VectorIndex();
        var now = DateTimeOffset.UtcNow;
        var v = Embed("capital of France");
        index.Add(new IndexedPrompt("team:a", "gpt", "k1", "capital of France", v, now.AddMinutes(5)));
        index.Add(new IndexedPrompt("team:b", "gpt", "k2", "capital of France", v, now.AddMinutes(5)));
        index.Add(new IndexedPrompt("team:a", "other", "k3", "capital of France", v, now.AddMinutes(5)));
        index.Add(new IndexedPrompt("team:a", "gpt", "k4", "ctx" + SemanticText.Separator + "capital of France", v, now.AddMinutes(5)));
        index.Add(new IndexedPrompt("team:a", "gpt", "k5", "capital of France", v, now.AddSeconds(-1)));
        var hits = index.Search("team:a", "gpt", "", v, 0.9, 8, now);
        Assert.Equal(["k1"], hits.Select(h => h.Prompt.Key));
        Assert.Equal(4, index.Count); // k5 expired and was dropped by the search
        Assert.Empty(index.Search("team:c", "gpt", "", v, 0.9, 8, now));
        Assert.Equal(["k1", "k2", "k4"], index.RemoveModel("gpt").Order(StringComparer.Ordinal));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void The_index_is_bounded_and_replaces_a_key()
    {
        var index = new VectorIndex(capacity: 3);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 5; i++) index.Add(new IndexedPrompt("p", "m", "k" + i, "q" + i, Embed("q" + i), now.AddMinutes(1)));
        Assert.Equal(3, index.Count);
        Assert.Empty(index.Search("p", "m", "", Embed("q0"), 0.99, 8, now));
        Assert.Single(index.Search("p", "m", "", Embed("q4"), 0.99, 8, now));
        index.Add(new IndexedPrompt("p", "m", "k4", "other words", Embed("other words"), now.AddMinutes(1)));
        Assert.Equal(3, index.Count);
        Assert.Empty(index.Search("p", "m", "", Embed("q4"), 0.99, 8, now));
    }

    [Fact]
    public void A_prompt_survives_its_redis_encoding()
    {
        var prompt = new IndexedPrompt("team:é", "gpt", "abc", "ctx" + SemanticText.Separator + "question?", Embed("question"), DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
        var back = SemanticReplication.Decode(SemanticReplication.Encode(prompt), 0)!;
        Assert.Equal((prompt.Partition, prompt.ModelGroup, prompt.Key, prompt.PromptText, prompt.ExpiresAt), (back.Partition, back.ModelGroup, back.Key, back.PromptText, back.ExpiresAt));
        Assert.Equal(prompt.Vector, back.Vector);
        Assert.Null(SemanticReplication.Decode([1, 2, 3], 0));
    }
}
