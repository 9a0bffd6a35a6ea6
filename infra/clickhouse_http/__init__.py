"""A ClickHouse HTTP interface in front of the embedded engine (chDB), for tests and local runs.

It stands in for a ClickHouse server because no usable server package installs on these machines
(Debian's clickhouse-server is 18.16, too old for clickhouse-connect, and there is no network to
fetch another). One process owns a chDB data path and answers what clickhouse-connect's HTTP client
sends (`http://127.0.0.1:PORT/`), so several sinks in several processes can write to one store, as
they would to a server: that is what the embedded engine, one process per data path, cannot do.

Implemented: `GET /ping`; `POST /` and `GET /?query=` with the SQL in the `query` parameter, the
body, or both; `INSERT ... FORMAT <fmt>` with the data after the statement (or the statement in the
parameter), bodies compressed as the client sends them (lz4, zstd, gzip, deflate); per-request
settings from the query parameters (`insert_deduplication_token` and the rest), `param_<name>`
query parameters, `database`; the response headers the client reads (X-ClickHouse-Format,
-Summary, -Timezone, -Query-Id, -Exception-Code); external data (multipart form files, each a
temporary table for its request). Not implemented: authentication (it listens on loopback only and
ignores credentials), sessions (each request runs on a fresh engine handle, so a `SET` does not
outlive its request), progress headers.

For tests, `POST /_front/hold-next-insert` holds the next data insert before it runs (its client
stalled mid-insert) until `POST /_front/release`; `GET /_front/hold` shows the held requests'
client ports and how many held inserts have finished since.
"""
