namespace AgenticGateway.Edge.Acme;

/// <summary>
/// An ACME request that failed: the server's problem document (RFC 8555 §6.7: <c>type</c> and <c>detail</c>), an
/// answer that is not ACME, or a server that cannot be reached. The message says which, for the log.
/// </summary>
internal sealed class AcmeException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The problem type (<c>urn:ietf:params:acme:error:badNonce</c> ...), when the server sent one.</summary>
    public string? ProblemType { get; init; }

    public const string BadNonce = "urn:ietf:params:acme:error:badNonce";
    public const string AccountDoesNotExist = "urn:ietf:params:acme:error:accountDoesNotExist";
}
