-- Why each request went where it went: the classifier's probabilities and the cause of the type
-- (size, hint, model, unsure, rules). Rows written before this migration read '' and 0.
ALTER TABLE completions ADD COLUMN IF NOT EXISTS route_cause LowCardinality(String) DEFAULT '' AFTER completed_at;
ALTER TABLE completions ADD COLUMN IF NOT EXISTS p_simple Float32 DEFAULT 0 AFTER route_cause;
ALTER TABLE completions ADD COLUMN IF NOT EXISTS p_complex Float32 DEFAULT 0 AFTER p_simple;
ALTER TABLE completions ADD COLUMN IF NOT EXISTS p_code Float32 DEFAULT 0 AFTER p_complex;
ALTER TABLE completions ADD COLUMN IF NOT EXISTS p_long_context Float32 DEFAULT 0 AFTER p_code;
