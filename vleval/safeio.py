"""Deprecated alias of :mod:`vleval.api.files` (plugins written for API 1.0 import it); use ``vleval.api``."""

from vleval.api.files import MAX_IMAGE_PIXELS, UnsafeInputError, hash_files, open_image, safe_join  # noqa: F401
