"""Errors raised by the dataset plugins: all are ``ValueError`` subclasses that name the file, row and field."""

from __future__ import annotations


class DatasetFormatError(ValueError):
    """A dataset file is missing, unreadable or does not follow the expected format."""


class DatasetFileNotFoundError(DatasetFormatError, FileNotFoundError):
    """A file or directory a dataset needs does not exist (also a ``FileNotFoundError``)."""


class ImageDecodeError(DatasetFormatError):
    """An image referenced by a dataset could not be decoded."""
