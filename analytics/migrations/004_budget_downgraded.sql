-- Whether a request moved to a cheaper group because a spend cap was near (ReplyEvent field).
ALTER TABLE completions ADD COLUMN IF NOT EXISTS budget_downgraded Bool DEFAULT false AFTER cache_hit;
