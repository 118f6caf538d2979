"""Plugin discovery: load every entry point of group ``vleval``, collect what each registers, keep the broken apart.

Nothing here imports torch: factories given as ``"module:attr"`` strings are imported on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from vleval import hookspecs

KINDS = ("model", "dataset", "shift", "metric")
_HOOKS = {"model": "register_models", "dataset": "register_datasets", "shift": "register_shifts",
          "metric": "register_metrics"}


class PluginError(Exception):
    """A plugin problem the user must fix: unknown or ambiguous name, broken factory, incompatible API."""


@dataclass
class Registration:
    kind: str
    name: str
    version: str
    description: str
    factory: Callable[..., Any] | str
    plugin: str  # entry point (or module) name
    distribution: str

    def load(self) -> Callable[..., Any]:
        """The factory, imported on first use."""
        if isinstance(self.factory, str):
            module_name, _, attr = self.factory.partition(":")
            try:
                self.factory = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"{self.kind} {self.name!r} ({self.distribution}): cannot import factory "
                                  f"{self.factory!r}: {exc}") from exc
        return self.factory

    def check_args(self, kwargs: dict[str, Any]) -> None:
        """Raise :class:`PluginError` if the config's arguments do not fit the factory's signature."""
        factory = self.load()
        try:
            signature = inspect.signature(factory)
        except ValueError:  # no signature to check (some builtins)
            return
        try:
            signature.bind(**kwargs)
        except TypeError as exc:  # the config's fault, not the plugin's
            raise PluginError(f"{self.kind} {self.name!r}: arguments {sorted(kwargs)} do not fit "
                              f"{getattr(factory, '__name__', factory)}{signature}: {exc}") from None

    def create(self, **kwargs: Any) -> Any:
        """Import the factory if needed and call it with the config's keyword arguments."""
        self.check_args(kwargs)
        return self.load()(**kwargs)

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        """The factory's optional ``fingerprint(**kwargs)``: identifies the weights behind the arguments (so a
        retrained model is never mistaken for a finished cell on ``--resume``)."""
        fingerprint = getattr(self.load(), "fingerprint", None)
        return str(fingerprint(**kwargs)) if callable(fingerprint) else None


@dataclass
class BrokenPlugin:
    plugin: str
    distribution: str
    error: str


@dataclass
class Registry:
    """Everything the installed plugins registered, by kind and name."""

    items: dict[str, dict[str, Registration]] = field(default_factory=lambda: {k: {} for k in KINDS})
    broken: list[BrokenPlugin] = field(default_factory=list)
    conflicts: dict[tuple[str, str], list[Registration]] = field(default_factory=dict)

    @classmethod
    def discover(cls, extra_plugins: Iterable[ModuleType | object] = (), entry_points: bool = True) -> Registry:
        """Load the ``vleval`` entry points (unless ``entry_points=False``) and any ``extra_plugins`` objects."""
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        registry = cls()
        sources: dict[str, str] = {}
        if entry_points:
            for ep in md.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown"
                try:
                    module = ep.load()
                    _check_api_version(module)
                    pm.register(module, name=ep.name)
                except Exception as exc:  # a broken plugin must not break the others
                    registry.broken.append(BrokenPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                    continue
                sources[ep.name] = dist
        for plugin in extra_plugins:
            name = getattr(plugin, "__name__", type(plugin).__name__)
            if pm.is_registered(plugin):  # already loaded through its entry point
                continue
            try:
                _check_api_version(plugin)
                pm.register(plugin, name=name)
            except Exception as exc:
                registry.broken.append(BrokenPlugin(name, "(registered in-process)", f"{type(exc).__name__}: {exc}"))
                continue
            sources[name] = "(registered in-process)"
        for kind, hook_name in _HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                dist = sources.get(impl.plugin_name, "unknown")
                try:
                    impl.function(register=registry._registrar(kind, impl.plugin_name, dist))
                except Exception as exc:
                    registry.broken.append(BrokenPlugin(impl.plugin_name, dist,
                                                        f"{hook_name} raised {type(exc).__name__}: {exc}"))
        return registry

    def _registrar(self, kind: str, plugin: str, dist: str) -> Callable[..., None]:
        def register(factory: Callable[..., Any] | str, *, name: str | None = None, version: str | None = None,
                     description: str | None = None) -> None:
            reg = Registration(
                kind=kind,
                name=name or getattr(factory, "name", None) or "",
                version=str(version or getattr(factory, "version", "") or ""),
                description=description or getattr(factory, "description", "") or "",
                factory=factory, plugin=plugin, distribution=dist,
            )
            missing = [f for f in ("name", "version", "description") if not getattr(reg, f)]
            if missing:
                raise PluginError(f"{kind} registered by plugin {plugin!r} lacks {', '.join(missing)}")
            existing = self.items[kind].get(reg.name)
            if existing is not None or (kind, reg.name) in self.conflicts:
                clash = self.conflicts.setdefault((kind, reg.name), [existing] if existing else [])
                clash.append(reg)
                self.items[kind].pop(reg.name, None)
                return
            self.items[kind][reg.name] = reg
        return register

    def get(self, kind: str, name: str) -> Registration:
        if (kind, name) in self.conflicts:
            who = " and ".join(f"{r.distribution} (plugin {r.plugin!r})" for r in self.conflicts[(kind, name)])
            raise PluginError(f"{kind} name {name!r} is registered twice: by {who}; uninstall one of them")
        try:
            return self.items[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.items[kind])) or "none"
            hint = ""
            if self.broken:
                hint = "; broken plugins (see `vleval plugins`): " + ", ".join(b.plugin for b in self.broken)
            raise PluginError(f"no {kind} named {name!r} is registered (known: {known}){hint}") from None

    def create(self, kind: str, name: str, args: dict[str, Any] | None = None) -> Any:
        reg = self.get(kind, name)
        return reg.create(**(args or {}))

    def all(self) -> list[Registration]:
        return [reg for kind in KINDS for reg in sorted(self.items[kind].values(), key=lambda r: r.name)]


def _check_api_version(module: Any) -> None:
    declared = getattr(module, "VLEVAL_API_VERSION", None)
    if declared is None:
        return
    if str(declared).split(".")[0] != hookspecs.API_VERSION.split(".")[0]:
        raise PluginError(f"plugin declares vleval API version {declared}, but this vleval provides "
                          f"{hookspecs.API_VERSION}; install a plugin release built for API {hookspecs.API_VERSION}")
