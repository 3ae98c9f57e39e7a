"""annoconvert: annotation-tool exports to fine-tuning JSONL."""

__version__ = "0.1.0"
