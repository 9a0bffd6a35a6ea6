-- A batch inserted twice under one token is dropped by `completions`, but the materialized view
-- still wrote its ids again into `completion_ids` unless that table deduplicates blocks too
-- (deduplicate_blocks_in_dependent_materialized_views needs a window on the view's own target).
-- Server-mode sinks redo each other's batches, so this keeps the look-up table at one row per id.
ALTER TABLE completion_ids MODIFY SETTING non_replicated_deduplication_window = 10000;
