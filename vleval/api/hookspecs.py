"""The hooks of the plugin contract (reference: docs/plugin-reference.md).

A plugin is a module named by an entry point in the ``vleval`` group. It implements any of the hooks below with
``@hookimpl`` (``from vleval.api import hookimpl``); each hook receives a ``register`` callable and calls it once per
thing it provides::

    from vleval.api import hookimpl

    VLEVAL_API_VERSION = "1"          # optional; a different major version is refused

    @hookimpl
    def register_models(register):
        register("my_pkg.model:MyModel", name="my-moe", version="0.1.0",
                 description="My MoE VLM from a local checkpoint")

``register(factory, *, name, version, description)``: ``factory`` is a callable, or a ``"module:attribute"`` string
imported only when the thing is first used (so listing plugins stays fast). The factory is called with the keyword
arguments of the benchmark config and returns an object satisfying the interface of its kind in ``vleval.api``.
Omitted ``name``/``version``/``description`` are read from the factory's attributes of the same names.
Names are unique per kind across all installed distributions. A model factory may also offer
``fingerprint(**kwargs) -> str`` (e.g. a hash of the weights files), recorded and used to tell results of
retrained weights apart.

A function of the plugin with an unknown name marked ``@hookimpl`` (``register_model``), or a hook function without
``@hookimpl``, makes the plugin broken (:mod:`vleval.registry.discovery`) instead of being silently ignored.
"""

from __future__ import annotations

import pluggy

PROJECT = "vleval"
ENTRY_POINT_GROUP = "vleval"
API_VERSION = "1.0"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register):
    """Register model factories. Each returns a :class:`vleval.api.Model`."""


@hookspec
def register_datasets(register):
    """Register dataset factories. Each returns a :class:`vleval.api.Dataset`."""


@hookspec
def register_shifts(register):
    """Register shift factories. Each returns a :class:`vleval.api.Shift` (a source and a target domain)."""


@hookspec
def register_metrics(register):
    """Register metric factories. Each returns a :class:`vleval.api.Metric`."""
