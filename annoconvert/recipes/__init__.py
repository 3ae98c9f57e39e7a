"""Recipes: one module per family of use cases, each exposing recipe objects (registry.Recipe)."""
