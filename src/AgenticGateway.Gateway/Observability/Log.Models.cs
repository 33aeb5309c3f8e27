namespace AgenticGateway.Observability;

/// <summary>Messages of model management (models stored in the database); event ids 210-219. Never a credential: ids and names only.</summary>
internal static partial class Log
{
    [LoggerMessage(210, LogLevel.Information, "Serving {Count} model(s) from the database (store_model_in_db)")]
    public static partial void StoredModelsLoaded(ILogger logger, int count);

    [LoggerMessage(211, LogLevel.Warning, "Stored model {ModelId} ({ModelName}) is not served: {Reason}")]
    public static partial void StoredModelSkipped(ILogger logger, string modelId, string modelName, string reason);

    [LoggerMessage(212, LogLevel.Warning, "Cannot read the models stored in the database; serving the last ones read: {Reason}")]
    public static partial void StoredModelsUnavailable(ILogger logger, string reason);

    [LoggerMessage(213, LogLevel.Information, "Model {ModelId} ({ModelName}) {Action} by {Actor}")]
    public static partial void StoredModelChanged(ILogger logger, string modelId, string modelName, string action, string actor);
}
