"""RefMoE weight files: a stack's tensors as safetensors (fp32) with its config in one JSON metadata entry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vleval_models.refmoe.config import RefMoEConfig
from vleval_models.refmoe.stack import RefMoEStack


def save_stack(model: RefMoEStack, path: str | Path, key: str, header: dict[str, Any]) -> None:
    """Write the weights as safetensors (fp32) with ``header`` (plus the config) as one JSON metadata entry ``key``.

    A single metadata key keeps the file byte-for-byte reproducible (safetensors does not order several keys).
    """
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {"config": model.cfg.to_dict(), **header}
    save_file(tensors, str(path), metadata={key: json.dumps(header, sort_keys=True)})


def load_stack(path: str | Path, key: str, what: str, build: Callable[[RefMoEConfig], RefMoEStack],
               device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild a model written by :func:`save_stack` under metadata entry ``key`` (safetensors only, no pickle)."""
    with safe_open(str(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get(key)
    if raw is None:
        raise ValueError(f"{path}: not a {what} file (no {key!r} entry in its safetensors metadata)")
    metadata = json.loads(raw)
    model = build(RefMoEConfig(**metadata["config"]))
    model.load_state_dict(load_file(str(path), device="cpu"), strict=True)
    return model.to(device).eval(), metadata
