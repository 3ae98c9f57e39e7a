"""Readers: one module per tool's export format, each exposing a `READER` (see registry.Reader)."""
