"""Dialect writers (one module per output dialect) and the JSONL sink."""
