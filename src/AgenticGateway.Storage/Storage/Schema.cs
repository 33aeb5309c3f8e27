using System.Data.Common;
using Dapper;

namespace AgenticGateway.Storage;

/// <summary>
/// The schema, as ordered migrations that run once each (recorded in schema_migrations). The SQL is written once
/// for both backends; <c>{id}</c> stands for an auto-increment primary key. Money is stored as integer nano-dollars
/// (<c>*_nanos</c>), so sums are exact and counters can be incremented atomically anywhere.
/// </summary>
internal static class Schema
{
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE keys (
            token TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            key_alias TEXT UNIQUE,
            user_id TEXT,
            team_id TEXT,
            models TEXT NOT NULL DEFAULT '[]',
            max_budget TEXT,
            budget_duration TEXT,
            spend TEXT NOT NULL DEFAULT '0',
            rpm_limit INTEGER,
            tpm_limit INTEGER,
            max_parallel_requests INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]',
            expires_at TEXT,
            blocked INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX keys_user ON keys(user_id);
        CREATE INDEX keys_team ON keys(team_id);
        """,
        """
        ALTER TABLE keys ADD COLUMN spend_nanos BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE keys ADD COLUMN tpd_limit BIGINT;
        CREATE TABLE teams (
            team_id TEXT PRIMARY KEY,
            team_alias TEXT,
            models TEXT NOT NULL DEFAULT '[]',
            max_budget TEXT,
            budget_duration TEXT,
            spend_nanos BIGINT NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            tpd_limit BIGINT,
            max_parallel_requests BIGINT,
            members TEXT NOT NULL DEFAULT '[]',
            metadata TEXT NOT NULL DEFAULT '{}',
            blocked INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE users (
            user_id TEXT PRIMARY KEY,
            user_email TEXT,
            user_role TEXT,
            teams TEXT NOT NULL DEFAULT '[]',
            models TEXT NOT NULL DEFAULT '[]',
            max_budget TEXT,
            budget_duration TEXT,
            spend_nanos BIGINT NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            tpd_limit BIGINT,
            max_parallel_requests BIGINT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE spend_logs (
            log_id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            api_key TEXT NOT NULL,
            key_alias TEXT,
            user_id TEXT,
            team_id TEXT,
            model TEXT NOT NULL,
            model_group TEXT,
            deployment TEXT,
            provider TEXT,
            call_type TEXT NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cost_nanos BIGINT NOT NULL,
            status INTEGER NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            stream INTEGER NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            start_time TEXT NOT NULL,
            end_time TEXT NOT NULL
        );
        CREATE INDEX spend_logs_key ON spend_logs(api_key, end_time);
        CREATE INDEX spend_logs_team ON spend_logs(team_id, end_time);
        CREATE INDEX spend_logs_user ON spend_logs(user_id, end_time);
        CREATE INDEX spend_logs_time ON spend_logs(end_time);
        CREATE INDEX spend_logs_request ON spend_logs(request_id);
        CREATE TABLE audit_log (
            id {id},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            before_value TEXT,
            after_value TEXT
        );
        CREATE INDEX audit_log_object ON audit_log(object_type, object_id);
        """,
        // Models added through /model/new (store_model_in_db), with a version that replicas poll to see each other's changes.
        """
        CREATE TABLE IF NOT EXISTS proxy_models (
            model_id TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            litellm_params TEXT NOT NULL,
            model_info TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            created_by TEXT,
            updated_at TEXT NOT NULL,
            updated_by TEXT
        );
        CREATE TABLE IF NOT EXISTS proxy_models_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
        INSERT INTO proxy_models_version (id, version) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM proxy_models_version);
        """,
        // LiteLLM's management API parity: key aliases, team model aliases, organizations above teams, budgets per
        // team member, and the spend log fields LiteLLM scripts read (the response id clients see, the organization).
        """
        ALTER TABLE keys ADD COLUMN aliases TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE teams ADD COLUMN organization_id TEXT;
        ALTER TABLE teams ADD COLUMN model_aliases TEXT NOT NULL DEFAULT '{}';
        CREATE TABLE organizations (
            organization_id TEXT PRIMARY KEY,
            organization_alias TEXT,
            models TEXT NOT NULL DEFAULT '[]',
            max_budget TEXT,
            budget_duration TEXT,
            spend_nanos BIGINT NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            tpd_limit BIGINT,
            max_parallel_requests BIGINT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_by TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE organization_members (
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            user_role TEXT,
            max_budget TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (organization_id, user_id)
        );
        CREATE TABLE team_memberships (
            team_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            max_budget TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (team_id, user_id)
        );
        CREATE INDEX users_email ON users(user_email);
        ALTER TABLE spend_logs ADD COLUMN response_id TEXT;
        ALTER TABLE spend_logs ADD COLUMN organization_id TEXT;
        ALTER TABLE spend_logs ADD COLUMN team_alias TEXT;
        CREATE INDEX spend_logs_response ON spend_logs(response_id);
        CREATE INDEX spend_logs_org ON spend_logs(organization_id, end_time);
        CREATE INDEX spend_logs_team_user ON spend_logs(team_id, user_id, end_time);
        """,
        // Issue 17, the MCP gateway: tool pins (the approved definition of each upstream tool, and a changed one held
        // for approval), and LiteLLM's object_permission on keys and teams as a JSON object (NULL: none set).
        """
        CREATE TABLE mcp_tool_pins (
            server TEXT NOT NULL,
            tool TEXT NOT NULL,
            approved_hash TEXT,
            pending_hash TEXT,
            pending_definition TEXT,
            reason TEXT,
            approved_by TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (server, tool)
        );
        ALTER TABLE keys ADD COLUMN object_permission TEXT;
        ALTER TABLE teams ADD COLUMN object_permission TEXT;
        """,
        // Issue 18, the Responses API: stored responses (store: true) for previous_response_id, retrieve, delete and
        // input_items, each its owner's until expires_at. Reads go by id (the key) and check owner and expiry on the
        // row; the purge finds expired rows by expires_at.
        """
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            team_id TEXT,
            model TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            previous_response_id TEXT,
            input_items TEXT NOT NULL,
            response TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX responses_expiry ON responses(expires_at);
        -- The ids of each stored response's items (input and output), so an input item_reference (the AI SDK refers to
        -- earlier stored answers so, without previous_response_id) finds the response that holds the item.
        CREATE TABLE response_items (
            item_id TEXT NOT NULL,
            response_id TEXT NOT NULL,
            PRIMARY KEY (item_id, response_id)
        );
        CREATE INDEX response_items_response ON response_items(response_id);
        """,
        // Issue 19, the edge's ACME certificates, shared by replicas: the account per CA and email, the certificates per
        // resolver and domain list, the pending challenges' key authorizations (a CA may validate through any replica),
        // and leases so that one replica at a time orders a given certificate.
        """
        CREATE TABLE edge_acme_accounts (
            ca_server TEXT NOT NULL,
            email TEXT NOT NULL,
            private_key TEXT NOT NULL,
            account_url TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (ca_server, email)
        );
        CREATE TABLE edge_certificates (
            resolver TEXT NOT NULL,
            domains TEXT NOT NULL,
            certificate TEXT NOT NULL,
            private_key TEXT NOT NULL,
            not_before TEXT NOT NULL,
            not_after TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (resolver, domains)
        );
        CREATE TABLE edge_acme_challenges (
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            key_authorization TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (kind, name)
        );
        CREATE TABLE edge_acme_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
        // Issue 20, cache and guardrails: whether the answer came from the response cache, and the guardrails'
        // decisions (a JSON array without any content), as LiteLLM's spend logs carry them.
        """
        ALTER TABLE spend_logs ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE spend_logs ADD COLUMN guardrail_information TEXT;
        """,
        // Issue 21, policy routing: the routing decisions the policies made (sampled; every denial and dry-run
        // disagreement), with each candidate's reasons as a JSON array. id is the request's id and not unique: a retry
        // or a fallback group gets a decision of its own; seq orders rows written in the same instant.
        """
        CREATE TABLE routing_decisions (
            seq {id},
            id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            model_group TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            chosen_deployment TEXT,
            provider TEXT,
            decision TEXT NOT NULL,
            deciding_policy TEXT,
            policies TEXT NOT NULL DEFAULT '[]',
            candidates TEXT NOT NULL DEFAULT '[]',
            key_alias TEXT,
            team_id TEXT,
            user_id TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0,
            latency_us BIGINT NOT NULL
        );
        CREATE INDEX routing_decisions_time ON routing_decisions(created_at);
        CREATE INDEX routing_decisions_group ON routing_decisions(model_group, created_at);
        CREATE INDEX routing_decisions_request ON routing_decisions(id);
        """,
    ];

    /// <summary>The schema version a migrated database has: the number of migrations.</summary>
    public static int Version => Migrations.Length;

    public static async Task MigrateAsync(DbConnection c, SqlDialect dialect, CancellationToken cancellationToken)
    {
        // Replicas starting together against one PostgreSQL migrate one at a time.
        if (dialect == SqlDialect.Postgres) await c.ExecuteAsync("SELECT pg_advisory_lock(727274)");
        try
        {
            await c.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
            var applied = (await c.QueryAsync<int>("SELECT version FROM schema_migrations")).ToHashSet();
            for (var i = 0; i < Migrations.Length; i++)
            {
                if (applied.Contains(i + 1)) continue;
                await using var tx = await c.BeginTransactionAsync(cancellationToken);
                await c.ExecuteAsync(Dialect(Migrations[i], dialect), transaction: tx);
                await c.ExecuteAsync("INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @t)", new { v = i + 1, t = DateTimeOffset.UtcNow.ToString("O") }, tx);
                await tx.CommitAsync(cancellationToken);
            }
        }
        finally
        {
            if (dialect == SqlDialect.Postgres) await c.ExecuteAsync("SELECT pg_advisory_unlock(727274)");
        }
    }

    private static string Dialect(string sql, SqlDialect dialect) =>
        sql.Replace("{id}", dialect == SqlDialect.Postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT");
}
