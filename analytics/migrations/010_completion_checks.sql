-- What the record model checks before a row exists, checked by the table too: the sink hands
-- ClickHouse the records' Avro bodies (analytics/encoded.py), and Avro alone lets through a status
-- outside ok/error and strings that are not UTF-8. A batch that breaks one is refused whole, and the
-- sink decodes it record by record, so the bad record becomes a dead letter with its reason.
ALTER TABLE completions ADD CONSTRAINT IF NOT EXISTS status_is_ok_or_error CHECK status IN ('ok', 'error');
ALTER TABLE completions ADD CONSTRAINT IF NOT EXISTS strings_are_utf8 CHECK
    isValidUTF8(request_id) AND isValidUTF8(user_id) AND isValidUTF8(org_id) AND isValidUTF8(tier)
    AND isValidUTF8(query_type) AND isValidUTF8(model_group) AND isValidUTF8(model)
    AND isValidUTF8(provider) AND isValidUTF8(error_code) AND isValidUTF8(worker_id)
    AND isValidUTF8(route_cause) AND isValidUTF8(trace_id)
    AND arrayAll(name -> isValidUTF8(name), attempted_models);
