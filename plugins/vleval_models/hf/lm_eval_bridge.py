"""Run lm-evaluation-harness tasks on any :class:`vleval.api.TextLM`, capturing MoE routing and latency.

``lm_eval`` is imported only when a bridge is created, so importing this module never needs it::

    from vleval.engine.latency import LatencyRecorder
    from vleval_models.hf.lm_eval_bridge import evaluate

    results, lm = evaluate(HFModel(path=...), ["hellaswag"], batch_size=8, latency=LatencyRecorder())
    lm.trace.events                              # routing of every request, prefill and decode
    lm.latency.summary()                         # the core's latency figures, one timed call per request batch

The bridge is written against the :class:`~vleval.api.TextLM` protocol only. Routing is captured when the model is
also a :class:`vleval.api.Model` whose :meth:`~vleval.api.Model.info` reports MoE layers. lm-eval runs each request
once, so routing and latency come from the same calls: with ``trace=True`` (the default) the latency includes routing
capture (about 1-3 % for the hf model, see docs/hf.md). Pass ``trace=False`` for latency without capture, as vleval's
own runner measures it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from vleval.api import Model, RoutingTrace, TextLM

DEFAULT_MAX_GEN_TOKS = 256

_CLASS: type | None = None


class BatchTimer(Protocol):
    """What times each batch of requests, e.g. the core's ``vleval.engine.latency.LatencyRecorder``."""

    def measure(self, batch_size: int) -> contextlib.AbstractContextManager[None]: ...


def routes(model: TextLM) -> bool:
    """Whether ``model`` reports routing: a :class:`vleval.api.Model` whose ``info()`` lists MoE layers."""
    return isinstance(model, Model) and bool(model.info().moe_layers)


def _generation_args(request: Any) -> tuple[tuple[str, ...], int]:
    """``(stop strings, max new tokens)`` of an lm-eval ``generate_until`` request."""
    kwargs = dict(request.args[1] or {})
    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    n = int(kwargs.get("max_gen_toks", kwargs.get("max_new_tokens", DEFAULT_MAX_GEN_TOKS)))
    return tuple(until), n


def _lm_class() -> type:
    """The ``lm_eval.api.model.LM`` subclass, defined on first use."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    from lm_eval.api.model import LM

    class _Bridge(LM):
        """An ``lm_eval`` LM over a :class:`~vleval.api.TextLM`; requests run in batches of ``batch_size``."""

        def __init__(self, model: TextLM, batch_size: int = 8, trace: bool = True, latency: BatchTimer | None = None):
            super().__init__()
            if not isinstance(model, TextLM):
                raise TypeError(f"{type(model).__name__} does not implement vleval.api.TextLM")
            self.model = model
            self.batch_size = max(int(batch_size), 1)
            #: the model whose routing is captured (None: no capture)
            self.routed: Model | None = model if trace and routes(model) and isinstance(model, Model) else None
            self.trace = RoutingTrace()
            self.latency = latency

        @contextlib.contextmanager
        def _call(self, batch_size: int) -> Iterator[None]:
            timed = self.latency.measure(batch_size) if self.latency is not None else contextlib.nullcontext()
            with timed:
                if self.routed is None:
                    yield
                    return
                with self.routed.trace_routing() as trace:
                    yield
                self.trace.events.extend(trace.events)

        def _batched(self, args: Sequence[Any], fn: Callable[[list[Any]], list[Any]]) -> list[Any]:
            out: list[Any] = []
            for start in range(0, len(args), self.batch_size):
                chunk = list(args[start:start + self.batch_size])
                with self._call(len(chunk)):
                    out.extend(fn(chunk))
            return out

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            args = [tuple(r.args[:2]) for r in requests]
            results = self._batched(args, self.model.loglikelihood)
            for arg, res in zip(args, results, strict=True):
                self.cache_hook.add_partial("loglikelihood", arg, res)
            return [(float(lp), bool(greedy)) for lp, greedy in results]

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
            texts = [r.args[0] for r in requests]
            results = self._batched(texts, self.model.loglikelihood_rolling)
            for text, res in zip(texts, results, strict=True):
                self.cache_hook.add_partial("loglikelihood_rolling", (text,), res)
            return [float(x) for x in results]

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            # Requests with the same generation arguments are batched together, in their original order.
            groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
            for i, request in enumerate(requests):
                groups.setdefault(_generation_args(request), []).append(i)
            results: list[str] = [""] * len(requests)
            for (until, n), indices in groups.items():
                contexts = [requests[i].args[0] for i in indices]
                texts = self._batched(contexts, lambda c, u=until, m=n: self.model.generate_until(c, [u] * len(c), m))
                for i, text in zip(indices, texts, strict=True):
                    results[i] = text
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
            return results

        @property
        def tokenizer_name(self) -> str:
            tok = getattr(self.model, "tokenizer", None)
            return str(getattr(tok, "name_or_path", type(self.model).__name__)).replace("/", "__")

    _CLASS = _Bridge
    return _CLASS


def VlevalLM(  # noqa: N802 - a factory that stands for the lazily defined class
    model: TextLM, batch_size: int = 8, trace: bool = True, latency: BatchTimer | None = None
) -> Any:
    """An ``lm_eval.api.model.LM`` running ``model``; ``.trace`` collects routing, ``latency`` (if given) timings."""
    return _lm_class()(model, batch_size=batch_size, trace=trace, latency=latency)


def evaluate(
    model: TextLM, tasks: Sequence[str], include_path: str | None = None, batch_size: int = 8, trace: bool = True,
    latency: BatchTimer | None = None, **kwargs: Any,
) -> tuple[dict[str, Any], Any]:
    """``lm_eval.simple_evaluate`` on ``model`` (tasks from ``include_path`` too); returns (results, bridge)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    lm = VlevalLM(model, batch_size=batch_size, trace=trace, latency=latency)
    manager = TaskManager(include_path=include_path) if include_path else None
    results = lm_eval.simple_evaluate(model=lm, tasks=list(tasks), task_manager=manager, **kwargs)
    return results, lm
