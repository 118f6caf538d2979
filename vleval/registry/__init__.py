"""Plugin discovery: the entry points of group ``vleval``, what each registers, and the broken ones apart."""

from vleval.registry.discovery import LoadPolicy, PluginError, Registration, Registry

__all__ = ["LoadPolicy", "PluginError", "Registration", "Registry"]
