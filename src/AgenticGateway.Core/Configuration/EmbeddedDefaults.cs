namespace AgenticGateway.Configuration;

/// <summary>What the gateway runs with when no config is given: the built-in mock provider under familiar names.</summary>
internal static class EmbeddedDefaults
{
    public const string Yaml = """
        models:
          - name: gpt-4o
            provider: mock
          - name: gpt-4o-mini
            provider: mock
          - name: mock-gpt
            provider: mock
            mock:
              time_to_first_token: 20ms
              tokens_per_second: 200
          - name: gpt-3.5-turbo-instruct
            provider: mock
          - name: text-embedding-3-small
            provider: mock
        aliases:
          fast: gpt-4o-mini
          smart: gpt-4o
        router:
          strategy: simple-shuffle
        """;

    public static ConfigLoadResult Load() => ConfigLoader.Load(Yaml, "embedded defaults");
}
