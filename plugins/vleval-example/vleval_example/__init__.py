"""vleval-example: a complete, installable vleval plugin (model, dataset, shift, metric) to copy from."""

__version__ = "0.1.0"
