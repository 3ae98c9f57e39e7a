"""An example annoconvert plugin: a CSV reader, a recipe and a dialect (see docs/plugins.md)."""
