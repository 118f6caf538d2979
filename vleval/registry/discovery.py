"""Plugin discovery: load every entry point of group ``vleval``, collect what each registers, keep the broken apart.

Nothing here imports torch: factories given as ``"module:attr"`` strings are imported on first use.

Environment (read by :meth:`Registry.discover`; they select installed entry points, not ``extra_plugins``):

- ``VLEVAL_LOAD_PLUGINS=a,b``: load only these entry points (entry-point or distribution names); set but empty: none;
- ``VLEVAL_BLOCK_PLUGINS=a,b``: never load these;
- ``VLEVAL_TRACE_PLUGINS=1``: print each plugin loaded, skipped or broken and each registration to stderr.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TextIO

import pluggy

from vleval.api import hookspecs

KINDS = ("model", "dataset", "shift", "metric")
_HOOKS = {"model": "register_models", "dataset": "register_datasets", "shift": "register_shifts",
          "metric": "register_metrics"}
LOAD_ENV, BLOCK_ENV, TRACE_ENV = "VLEVAL_LOAD_PLUGINS", "VLEVAL_BLOCK_PLUGINS", "VLEVAL_TRACE_PLUGINS"
ENTRY_POINT, EXPLICIT = "entry point", "explicit"
IN_PROCESS = "(registered in-process)"


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
    origin: str = ENTRY_POINT  # ENTRY_POINT, or EXPLICIT for ``extra_plugins``

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


@dataclass(frozen=True)
class LoadPolicy:
    """Which installed entry points to load: ``only`` (``None``: all) minus ``block``; ``trace`` to stderr."""

    only: frozenset[str] | None = None
    block: frozenset[str] = frozenset()
    trace: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadPolicy:
        env = os.environ if environ is None else environ
        only = env.get(LOAD_ENV)
        return cls(only=None if only is None else _names(only), block=_names(env.get(BLOCK_ENV, "")),
                   trace=env.get(TRACE_ENV, "").strip().lower() in {"1", "true", "yes", "on"})

    def selects(self, names: Iterable[str]) -> str | None:
        """Why an entry point known by ``names`` is skipped, or ``None`` to load it."""
        names = {_normalise(n) for n in names}
        if names & self.block:
            return f"blocked by {BLOCK_ENV}"
        if self.only is not None and not names & self.only:
            return f"not named in {LOAD_ENV}"
        return None


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _names(value: str) -> frozenset[str]:
    return frozenset(_normalise(n) for n in value.split(",") if n.strip())


@dataclass
class Registry:
    """Everything the installed plugins registered, by kind and name."""

    items: dict[str, dict[str, Registration]] = field(default_factory=lambda: {k: {} for k in KINDS})
    broken: list[BrokenPlugin] = field(default_factory=list)
    conflicts: dict[tuple[str, str], list[Registration]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # entry point -> why it was not loaded

    @classmethod
    def discover(cls, extra_plugins: Iterable[ModuleType | object] = (), entry_points: bool = True,
                 policy: LoadPolicy | None = None, trace: TextIO | None = None) -> Registry:
        """Load the ``vleval`` entry points (unless ``entry_points=False``) selected by ``policy`` (default: from the
        environment), then the ``extra_plugins`` objects (always). ``trace`` receives the trace lines (stderr)."""
        policy = LoadPolicy.from_env() if policy is None else policy
        log = _Tracer(trace or sys.stderr) if policy.trace else _Tracer(None)
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        registry = cls()
        sources: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, origin)
        candidates: list[tuple[str, str, Callable[[], Any], str]] = []
        if entry_points:
            candidates += registry._select_entry_points(policy, log)
        candidates += [(getattr(p, "__name__", type(p).__name__), IN_PROCESS, (lambda p=p: p), EXPLICIT)
                       for p in extra_plugins]
        for name, dist, load, origin in candidates:
            try:
                plugin = load()
                if pm.is_registered(plugin):  # an explicit plugin already loaded through its entry point
                    log.line(f"plugin {name!r} ({dist}, {origin}): already registered")
                    continue
                _check_api_version(plugin)
                _check_hooks(pm, plugin, name)
            except Exception as exc:  # a broken plugin must not break the others
                registry._broken(name, dist, f"{type(exc).__name__}: {exc}", log)
                continue
            sources[name] = (dist, origin)
            log.line(f"plugin {name!r} ({dist}, {origin}): loaded")
        for kind, hook_name in _HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                dist, origin = sources.get(impl.plugin_name, ("unknown", EXPLICIT))
                try:
                    impl.function(register=registry._registrar(kind, impl.plugin_name, dist, origin, log))
                except Exception as exc:
                    registry._broken(impl.plugin_name, dist, f"{hook_name} raised {type(exc).__name__}: {exc}", log)
        return registry

    def _select_entry_points(self, policy: LoadPolicy, log: _Tracer) -> list[tuple[str, str, Callable[[], Any], str]]:
        selected, seen = [], set()
        for ep in md.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            dist_name = ep.dist.name if ep.dist else ""
            dist = f"{dist_name} {ep.dist.version}" if ep.dist else "unknown"
            names = {ep.name, dist_name} - {""}
            seen |= {_normalise(n) for n in names}
            reason = policy.selects(names)
            if reason:
                self.skipped[ep.name] = reason
                log.line(f"plugin {ep.name!r} ({dist}, {ENTRY_POINT}): skipped, {reason}")
                continue
            selected.append((ep.name, dist, ep.load, ENTRY_POINT))
        for name in sorted((policy.only or frozenset()) - seen):
            self._broken(name, f"({LOAD_ENV})", f"no installed entry point or distribution is named {name!r}", log)
        return selected

    def _broken(self, plugin: str, dist: str, error: str, log: _Tracer) -> None:
        self.broken.append(BrokenPlugin(plugin, dist, error))
        log.line(f"plugin {plugin!r} ({dist}): BROKEN: {error}")

    def _registrar(self, kind: str, plugin: str, dist: str, origin: str, log: _Tracer) -> Callable[..., None]:
        def register(factory: Callable[..., Any] | str, *, name: str | None = None, version: str | None = None,
                     description: str | None = None) -> None:
            reg = Registration(
                kind=kind,
                name=name or getattr(factory, "name", None) or "",
                version=str(version or getattr(factory, "version", "") or ""),
                description=description or getattr(factory, "description", "") or "",
                factory=factory, plugin=plugin, distribution=dist, origin=origin,
            )
            missing = [f for f in ("name", "version", "description") if not getattr(reg, f)]
            if missing:
                raise PluginError(f"{kind} registered by plugin {plugin!r} lacks {', '.join(missing)}")
            log.line(f"{kind} {reg.name!r} {reg.version} from plugin {plugin!r} ({dist}, {origin})")
            existing = self.items[kind].get(reg.name)
            if existing is not None or (kind, reg.name) in self.conflicts:
                clash = self.conflicts.setdefault((kind, reg.name), [existing] if existing else [])
                clash.append(reg)
                self.items[kind].pop(reg.name, None)
                log.line(f"{kind} {reg.name!r}: CONFLICT, registered by more than one plugin")
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


class _Tracer:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        if self.stream is not None:
            print(f"vleval plugins: {text}", file=self.stream, flush=True)


def _check_api_version(module: Any) -> None:
    declared = getattr(module, "VLEVAL_API_VERSION", None)
    if declared is None:
        return
    if str(declared).split(".")[0] != hookspecs.API_VERSION.split(".")[0]:
        raise PluginError(f"plugin declares vleval API version {declared}, but this vleval provides "
                          f"{hookspecs.API_VERSION}; install a plugin release built for API {hookspecs.API_VERSION}")


def _check_hooks(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    """Register ``plugin``; refuse (and unregister) it if it implements a hook vleval does not define, or defines a
    hook function without ``@hookimpl`` (pluggy would silently ignore either)."""
    hooks = sorted(_HOOKS.values())
    undecorated = [attr for attr in hooks if callable(getattr(plugin, attr, None))
                   and pm.parse_hookimpl_opts(plugin, attr) is None]
    if undecorated:
        raise PluginError(f"{', '.join(undecorated)} not decorated with @hookimpl (from vleval.api import hookimpl)")
    pm.register(plugin, name=name)  # pluggy checks the arguments of known hooks
    unknown = [caller.name for caller in pm.get_hookcallers(plugin) or [] if not caller.has_spec()]
    if unknown:
        pm.unregister(plugin)
        hints = []
        for hook in unknown:
            close = difflib.get_close_matches(hook, hooks, n=1)
            hints.append(f"{hook!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise PluginError(f"unknown hook {', '.join(hints)}; vleval's hooks are {', '.join(hooks)}")
