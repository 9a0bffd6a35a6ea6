"""The route pipeline: one query's bytes in, the records to publish out (see route_pipeline.py)."""
