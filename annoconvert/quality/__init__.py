"""Data quality: agreement, output validation, consistency, splits and statistics."""
