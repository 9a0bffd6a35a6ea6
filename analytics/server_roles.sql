-- Roles for a ClickHouse server (the embedded engine has no users). `mobius roles` applies this
-- file as an administrator; `mobius roles --print` prints it for clickhouse-client.
-- The placeholders for the database and the sink's grants (one per pipeline table) are filled in
-- by analytics/roles.py.
--
-- mobius_sink: what `mobius sink` needs and nothing more: read and insert the pipeline's tables
-- (no DDL: migrations are applied by an administrator, `mobius roles` does it first).
CREATE ROLE IF NOT EXISTS mobius_sink;
REVOKE ALL ON *.* FROM mobius_sink;
{sink_grants};

-- mobius_analyst: read the pipeline's tables only (no FILE, URL, REMOTE or other source grants,
-- so table functions that reach outside are refused), with frozen per-query limits and a quota.
CREATE ROLE IF NOT EXISTS mobius_analyst;
REVOKE ALL ON *.* FROM mobius_analyst;
GRANT SELECT ON {database}.* TO mobius_analyst;
CREATE SETTINGS PROFILE OR REPLACE mobius_analyst_limits SETTINGS
    readonly = 2 CONST,
    max_execution_time = 60 MAX 60,
    max_memory_usage = 4294967296 MAX 4294967296,
    max_result_rows = 1000000 MAX 1000000,
    max_result_bytes = 536870912 MAX 536870912,
    result_overflow_mode = 'throw' CONST
    TO mobius_analyst;
CREATE QUOTA OR REPLACE mobius_analyst_quota
    KEYED BY user_name
    FOR INTERVAL 1 hour MAX queries = 1000, result_rows = 100000000, read_rows = 100000000000,
        execution_time = 3600
    TO mobius_analyst
