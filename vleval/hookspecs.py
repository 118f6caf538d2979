"""Deprecated alias of :mod:`vleval.api.hookspecs` (plugins written for API 1.0 import it)."""

from vleval.api.hookspecs import *  # noqa: F403
from vleval.api.hookspecs import API_VERSION, hookimpl, hookspec  # noqa: F401
