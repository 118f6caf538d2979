"""Everything a plugin author needs, and nothing else: ``from vleval.api import ...``.

- the hook marker and contract version: :data:`hookimpl`, :data:`API_VERSION` (hooks in :mod:`vleval.api.hookspecs`);
- interfaces, one module per kind: :class:`Model`, :class:`Dataset`, :class:`Shift` (and :class:`TransformShift`,
  with :func:`item_rng` for per-item randomness), :class:`Metric`, and the plain-text protocol :class:`TextLM`;
- task types, items and outputs: :class:`Task`, :class:`RetrievalItem`, :class:`MCItem`, :class:`CaptionItem`,
  :class:`Prompt`, :class:`RetrievalOutputs`, :class:`MCOutputs`, :class:`CaptionOutputs`, :class:`DatasetSpec`, and
  :data:`CIRCULAR_BASE` (MMBench's circular rotations of a question share ``index % CIRCULAR_BASE``);
- shared prompting and answer extraction: :func:`mc_prompt`, :data:`CAPTION_PROMPT`, :func:`extract_choice`;
- latency phase marking: :func:`phase`, and :func:`measuring` (is the core timing this call?);
- retrieval ranks (stable tie order, memory-bounded): :func:`retrieval_ranks`;
- guarded file access: :func:`safe_join`, :func:`open_image`, :func:`hash_files`, :class:`UnsafeInputError`.

Plugins import nothing else from vleval (a test enforces it for the first-party plugins).

Names are loaded on first use (PEP 562), so ``from vleval.api import hookimpl`` in a plugin's entry-point module stays
as light as importing pluggy: listing plugins never loads numpy, torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "API_VERSION": "vleval.api.hookspecs",
    "CAPTION_PROMPT": "vleval.api.prompts",
    "CIRCULAR_BASE": "vleval.api.items",
    "Capability": "vleval.api.model",
    "CaptionItem": "vleval.api.items",
    "CaptionOutputs": "vleval.api.metric",
    "Dataset": "vleval.api.dataset",
    "DatasetSpec": "vleval.api.shift",
    "IMAGE": "vleval.api.model",
    "LayerRouting": "vleval.api.model",
    "MAX_IMAGE_PIXELS": "vleval.api.files",
    "MCItem": "vleval.api.items",
    "MCOutputs": "vleval.api.metric",
    "MC_INSTRUCTION": "vleval.api.prompts",
    "Metric": "vleval.api.metric",
    "MetricValue": "vleval.api.metric",
    "Model": "vleval.api.model",
    "ModelInfo": "vleval.api.model",
    "Prompt": "vleval.api.items",
    "RetrievalItem": "vleval.api.items",
    "RetrievalOutputs": "vleval.api.metric",
    "RoutingTrace": "vleval.api.model",
    "Shift": "vleval.api.shift",
    "ShiftArgumentError": "vleval.api.shift",
    "TASK_CAPABILITIES": "vleval.api.dataset",
    "TEXT": "vleval.api.model",
    "Task": "vleval.api.dataset",
    "TaskOutputs": "vleval.api.metric",
    "TextLM": "vleval.api.textlm",
    "Transform": "vleval.api.shift",
    "TransformShift": "vleval.api.shift",
    "TransformedDataset": "vleval.api.shift",
    "UnsafeInputError": "vleval.api.files",
    "dataset_spec": "vleval.api.shift",
    "extract_choice": "vleval.api.prompts",
    "hash_files": "vleval.api.files",
    "hookimpl": "vleval.api.hookspecs",
    "item_key": "vleval.api.shift",
    "item_rng": "vleval.api.shift",
    "item_seed": "vleval.api.shift",
    "mc_prompt": "vleval.api.prompts",
    "open_image": "vleval.api.files",
    "measuring": "vleval.api.phases",
    "phase": "vleval.api.phases",
    "retrieval_ranks": "vleval.api.ranking",
    "safe_join": "vleval.api.files",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vleval.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from vleval.api.dataset import TASK_CAPABILITIES, Dataset, Task
    from vleval.api.files import MAX_IMAGE_PIXELS, UnsafeInputError, hash_files, open_image, safe_join
    from vleval.api.hookspecs import API_VERSION, hookimpl
    from vleval.api.items import CIRCULAR_BASE, CaptionItem, MCItem, Prompt, RetrievalItem
    from vleval.api.metric import CaptionOutputs, MCOutputs, Metric, MetricValue, RetrievalOutputs, TaskOutputs
    from vleval.api.model import IMAGE, TEXT, Capability, LayerRouting, Model, ModelInfo, RoutingTrace
    from vleval.api.phases import measuring, phase
    from vleval.api.prompts import CAPTION_PROMPT, MC_INSTRUCTION, extract_choice, mc_prompt
    from vleval.api.ranking import retrieval_ranks
    from vleval.api.shift import (
        DatasetSpec,
        Shift,
        ShiftArgumentError,
        Transform,
        TransformedDataset,
        TransformShift,
        dataset_spec,
        item_key,
        item_rng,
        item_seed,
    )
    from vleval.api.textlm import TextLM
