"""The `vleval` command line."""

from vleval.cli.app import main

__all__ = ["main"]
