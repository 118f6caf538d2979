"""vleval: evaluation suite for Mixture-of-Experts vision-language models."""

from vleval.api.hookspecs import API_VERSION, hookimpl

__version__ = "0.1.0"
__all__ = ["API_VERSION", "__version__", "hookimpl"]
