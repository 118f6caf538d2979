"""What the RefMoE training tools share: optimisation settings, determinism, the learning-rate schedule, the
optimiser, one optimisation step, the logged history, the command-line options and the manifest's last write.

Used by ``refmoe_training.py`` / ``train_refmoe.py`` (the encoders) and ``refmoe_caption_training.py`` /
``train_refmoe_caption.py`` (the caption decoders); a development tool, not part of the installed package.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

VARIANTS = (1, 2, 4, 8, 16)
#: The packaged weights folder of this checkout (both families write there by default).
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "plugins" / "vleval_models" / "refmoe" / "weights"


@dataclass
class OptimConfig:
    """Optimiser, schedule and determinism settings of one training run (fixed step count: deterministic)."""

    steps: int = 1200
    batch_size: int = 128
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 60
    weight_decay: float = 0.05
    balance_weight: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    log_every: int = 100


def set_determinism(seed: int, threads: int) -> None:
    """Seed torch, fix the thread count and require deterministic algorithms (process-wide)."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


@contextlib.contextmanager
def deterministic(seed: int, threads: int) -> Iterator[None]:
    """:func:`set_determinism` for the block, restoring the thread count and algorithm flag afterwards."""
    saved = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    set_determinism(seed, threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1])


def lr_at(step: int, cfg: OptimConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices except position and token embeddings."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n and "embed.weight" not in n]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))


def set_lr(opt: torch.optim.Optimizer, step: int, cfg: OptimConfig) -> None:
    for group in opt.param_groups:
        group["lr"] = lr_at(step, cfg)


def optimizer_step(model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, cfg: OptimConfig,
                   what: str, step: int) -> None:
    """Back-propagate ``loss``, clip the gradient norm and step; a non-finite loss stops the run (``what`` names
    the variant in the error)."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{what}: loss is {float(loss)} at step {step + 1}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()


class History:
    """Per-step figures averaged over each ``log_every`` window: logged, and kept as the run's ``history``.

    ``fields``: ``(history key, log label)`` per figure, in the order :meth:`add` receives them.
    """

    def __init__(self, cfg: OptimConfig, fields: Sequence[tuple[str, str]], what: str,
                 log: Callable[[str], None], show_lr: bool = False):
        self.cfg, self.fields, self.what, self.log, self.show_lr = cfg, list(fields), what, log, show_lr
        self.rows: list[dict[str, float]] = []
        self.window: list[tuple[float, ...]] = []
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def add(self, step: int, *values: float) -> None:
        self.window.append(values)
        if (step + 1) % self.cfg.log_every and step + 1 != self.cfg.steps:
            return
        means = [float(np.mean(v)) for v in zip(*self.window, strict=True)]
        self.rows.append({"step": step + 1, **{key: m for (key, _), m in zip(self.fields, means, strict=True)}})
        shown = "  ".join(f"{label} {m:.3f}" for (_, label), m in zip(self.fields, means, strict=True))
        lr = f"  lr {lr_at(step, self.cfg):.2e}" if self.show_lr else ""
        self.log(f"  {self.what} step {step + 1:>5d}/{self.cfg.steps}  {shown}{lr}  "
                 f"{time.perf_counter() - self.start:6.1f}s")
        self.window = []

    def figures(self) -> dict[str, Any]:
        """Training wall and CPU seconds and the history, as the manifests record them."""
        return {"train_seconds": round(time.perf_counter() - self.start, 2),
                "train_cpu_seconds": round(time.process_time() - self.cpu_start, 2), "history": self.rows}


def parser(prog: str, doc: str, defaults: OptimConfig) -> argparse.ArgumentParser:
    """The options both training tools take: ``--out --seed --corpus-seed --experts --steps --threads
    --corpus-root``."""
    out = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    out.add_argument("--out", default=str(WEIGHTS_DIR), help="output folder (default: the packaged weights/)")
    out.add_argument("--seed", type=int, default=0, help="training seed (initialisation, batch order)")
    out.add_argument("--corpus-seed", type=int, default=0,
                     help="seed of the generated corpus trained on (default 0: the default benchmark's corpus)")
    out.add_argument("--experts", type=int, nargs="+", default=list(VARIANTS))
    out.add_argument("--steps", type=int, default=defaults.steps)
    out.add_argument("--threads", type=int, default=defaults.threads)
    out.add_argument("--corpus-root", default=None, help="corpus folder (default: the corpus cache's)")
    return out


def variant_entry(path: Path, model_cfg: Any, info: Any, figures: dict[str, Any]) -> dict[str, Any]:
    """A manifest's entry for one trained variant: its file, sha256, size, config, parameter counts (from the
    adapter's ``info()`` of the written file), MoE layers, top-k and training ``figures``."""
    from vleval_models.refmoe.adapter import file_sha256

    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
            "config": model_cfg.to_dict(), "total_params": info.total_params,
            "active_params_per_token": info.active_params_per_token, "moe_layers": info.moe_layers,
            "top_k": info.top_k, **figures}


def write_manifest(path: Path, manifest: dict[str, Any], t_all: float, cpu_all: float,
                   readable: Callable[[Path], bool]) -> None:
    """Add the run's total wall/CPU seconds (since ``t_all``/``cpu_all``), write ``manifest`` to ``path`` and make
    the files of its folder that ``readable`` selects world-readable (safetensors writes owner-only files)."""
    manifest["total_seconds"] = round(time.perf_counter() - t_all, 2)
    manifest["total_cpu_seconds"] = round(time.process_time() - cpu_all, 2)
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    for file in path.parent.iterdir():
        if readable(file):
            file.chmod(0o644)
    print(f"wrote {path.parent} in {manifest['total_seconds']}s", flush=True)
