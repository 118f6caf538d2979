"""Configuration: ``benchmarks.toml`` read, expanded and checked against ``schemas/``."""
