"""Run lm-evaluation-harness tasks on a vleval model, capturing its MoE routing and latency.

``lm_eval`` is imported only when a bridge is created, so ``import vleval`` never needs it::

    from vleval.lm_eval_bridge import VlevalLM
    lm = VlevalLM(hf_model)                      # a vleval_models.hf HFModel (or any model with the same methods)
    results = lm_eval.simple_evaluate(model=lm, tasks=["hellaswag"])
    lm.trace.events                              # routing of every request, prefill and decode
    lm.latency.summary()                         # the core's latency figures, one timed call per request batch

lm-eval runs each request once, so routing and latency come from the same calls: with ``trace=True`` (the default)
the latency includes routing capture (about 1-3 % for the hf model, see docs/hf.md). Pass ``trace=False`` for
latency without capture, as vleval's own runner measures it.

The wrapped model must provide ``loglikelihood(list[(context, continuation)])``,
``loglikelihood_rolling(list[str])`` and ``generate_until(contexts, until, max_new_tokens)`` on raw text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from vleval.api.model import Model, RoutingTrace
from vleval.latency import LatencyRecorder

DEFAULT_MAX_GEN_TOKS = 256

_CLASS: type | None = None


def _lm_class() -> type:
    """The ``lm_eval.api.model.LM`` subclass, defined on first use."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    from lm_eval.api.model import LM

    class _Bridge(LM):
        """An ``lm_eval`` LM over a vleval model; requests run in batches of ``batch_size``."""

        def __init__(self, model: Model, batch_size: int = 8, trace: bool = True, device: str | None = None):
            super().__init__()
            self.model = model
            self.batch_size = max(int(batch_size), 1)
            self.capture = trace and hasattr(model, "sites") and bool(getattr(model, "sites", None))
            self.trace = RoutingTrace()
            self.latency = LatencyRecorder(device=device or str(getattr(model, "device", "cpu")))
            self._device = getattr(model, "device", "cpu")

        @contextlib.contextmanager
        def _call(self, batch_size: int) -> Iterator[None]:
            with self.latency.measure(batch_size):
                if not self.capture:
                    yield
                    return
                with self.model.trace_routing() as trace:
                    yield
                self.trace.events.extend(trace.events)

        def _batched(self, args: Sequence[Any], fn: Any) -> list[Any]:
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
            out: list[str] = []
            # Requests with the same generation arguments are batched together, in their original order.
            groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
            for i, request in enumerate(requests):
                kwargs = dict(request.args[1] or {})
                until = kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                n = int(kwargs.get("max_gen_toks", kwargs.get("max_new_tokens", DEFAULT_MAX_GEN_TOKS)))
                groups.setdefault((tuple(until), n), []).append(i)
            results: list[str] = [""] * len(requests)
            for (until, n), indices in groups.items():
                contexts = [requests[i].args[0] for i in indices]
                texts = self._batched(contexts, lambda c, u=until, m=n: self.model.generate_until(c, [u] * len(c), m))
                for i, text in zip(indices, texts, strict=True):
                    results[i] = text
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
            out.extend(results)
            return out

        @property
        def tokenizer_name(self) -> str:
            tok = getattr(self.model, "tokenizer", None)
            return str(getattr(tok, "name_or_path", type(self.model).__name__)).replace("/", "__")

    _CLASS = _Bridge
    return _CLASS


def VlevalLM(model: Model, batch_size: int = 8, trace: bool = True, device: str | None = None) -> Any:  # noqa: N802
    """An ``lm_eval.api.model.LM`` running ``model``; ``.trace`` and ``.latency`` collect routing and timings."""
    return _lm_class()(model, batch_size=batch_size, trace=trace, device=device)


def evaluate(model: Model, tasks: Sequence[str], include_path: str | None = None, batch_size: int = 8,
             **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """``lm_eval.simple_evaluate`` on ``model`` (tasks from ``include_path`` too); returns (results, bridge)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    lm = VlevalLM(model, batch_size=batch_size)
    manager = TaskManager(include_path=include_path) if include_path else None
    results = lm_eval.simple_evaluate(model=lm, tasks=list(tasks), task_manager=manager, **kwargs)
    return results, lm
