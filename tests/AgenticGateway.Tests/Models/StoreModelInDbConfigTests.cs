using System.Collections.Immutable;
using AgenticGateway.Configuration;
using AgenticGateway.Runtime;

namespace AgenticGateway.Tests.Models;

/// <summary>store_model_in_db as LiteLLM reads it, and the runtime serving the file's and the database's models side by side.</summary>
[Trait("Category", "unit")]
public sealed class StoreModelInDbConfigTests
{
    private static ConfigLoadResult Load(string yaml) => ConfigLoader.Load(yaml, "test.yaml", new Dictionary<string, string>());

    [Fact]
    public void A_LiteLLM_file_with_store_model_in_db_may_have_no_models()
    {
        // The shape of LiteLLM's UI-first setups: models all come from the database.
        var result = Load("""
            model_list: []
            general_settings:
              master_key: sk-1234
              store_model_in_db: true
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.True(result.Options.StoreModelInDb);
        Assert.Empty(result.Options.Deployments);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("store_model_in_db", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_it_a_file_with_no_models_is_still_an_error()
    {
        var result = Load("model_list: []\ngeneral_settings: {master_key: sk-1234}\n");
        Assert.Contains(result.Errors, e => e.Contains("at least one model is required", StringComparison.Ordinal));
    }

    [Fact]
    public void STORE_MODEL_IN_DB_in_the_environment_turns_it_on_as_in_LiteLLM()
    {
        var result = Load("""
            environment_variables: {STORE_MODEL_IN_DB: "True"}
            model_list: []
            general_settings: {master_key: sk-1234}
            """);
        Assert.True(result.Options?.StoreModelInDb, string.Join("; ", result.Errors));
    }

    [Fact]
    public void The_own_schema_has_it_under_storage()
    {
        var result = Load("storage: {store_model_in_db: true}\nmodels: []\n");
        Assert.True(result.Options?.StoreModelInDb, string.Join("; ", result.Errors));
    }

    [Fact]
    public void A_reload_keeps_the_stored_models_and_a_model_change_keeps_the_files()
    {
        static DeploymentOptions Stored(string name, string id) =>
            StoredDeployment.Build(name, System.Text.Json.JsonDocument.Parse("""{"model":"mock/x"}""").RootElement, null, id).Deployment!;
        var file = Load("model_list: [{model_name: a, litellm_params: {model: mock/a}, model_info: {id: a-1}}]\ngeneral_settings: {store_model_in_db: true}\n").Options!;
        var holder = new RuntimeHolder(new RuntimeBuilder(new HttpMessageInvoker(new HttpClientHandler())), file);

        // A stored model whose id the file uses is left out: the file wins.
        holder.SwapStored([Stored("b", "b-1"), Stored("clash", "a-1")]);
        Assert.Equal(["a", "b"], holder.Current.AllDeployments.Select(d => d.GroupName).Order());
        Assert.Equal(["b-1"], holder.Current.StoredIds);

        var reloaded = Load("model_list: [{model_name: c, litellm_params: {model: mock/c}}]\ngeneral_settings: {store_model_in_db: true}\n").Options!;
        holder.Swap(reloaded);
        // The new file no longer uses a-1, so the stored model with that id is served again.
        Assert.Equal(["b", "c", "clash"], holder.Current.AllDeployments.Select(d => d.GroupName).Order());

        holder.SwapStored(ImmutableArray<DeploymentOptions>.Empty);
        Assert.Equal(["c"], holder.Current.AllDeployments.Select(d => d.GroupName));

        // Turned off by a reload: the stored models are no longer served.
        holder.SwapStored([Stored("b", "b-1")]);
        holder.Swap(reloaded with { StoreModelInDb = false });
        Assert.Equal(["c"], holder.Current.AllDeployments.Select(d => d.GroupName));
    }
}
