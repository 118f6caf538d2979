"""The RefMoE training loop (deterministic for a seed): data container, optimiser, schedule, losses.

Loss = CLIP InfoNCE + ``balance_weight`` x Switch load balancing + LIMoE local/global entropy terms (weights in
:class:`TrainConfig`). Used by ``tools/train_refmoe.py``; a development tool, not part of the installed package.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import preprocess_images
from vleval_models.refmoe.tokenizer import WordTokenizer


@dataclass
class TrainConfig:
    """Optimisation settings shared by every variant (fixed step count: the run is deterministic)."""

    steps: int = 1200
    batch_size: int = 128
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 60
    weight_decay: float = 0.05
    balance_weight: float = 0.01
    local_entropy_weight: float = 0.0
    global_entropy_weight: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    log_every: int = 100


@dataclass
class PairData:
    """Preprocessed images ``[N, 3, S, S]`` and, per image, its captions as token-id lists."""

    pixels: torch.Tensor
    captions: list[list[list[int]]]
    texts: list[list[str]] = field(default_factory=list)


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


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _optimizer(model: M.RefMoEModel, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n and "embed.weight" not in n]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))


def train_variant(model_cfg: M.RefMoEConfig, data: PairData, cfg: TrainConfig,
                  log: Callable[[str], None] = print) -> tuple[M.RefMoEModel, dict[str, Any]]:
    """Train one variant from scratch (seeded, deterministic); returns the model (eval mode) and training figures."""
    with deterministic(cfg.seed, cfg.threads):
        return _train(model_cfg, data, cfg, log)


def _train(model_cfg: M.RefMoEConfig, data: PairData, cfg: TrainConfig,
           log: Callable[[str], None]) -> tuple[M.RefMoEModel, dict[str, Any]]:
    model = M.RefMoEModel(model_cfg)
    model.train()
    opt = _optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = data.pixels.shape[0]
    batch = min(cfg.batch_size, n)
    order, cursor = torch.randperm(n, generator=gen), 0
    history: list[dict[str, float]] = []
    window: list[tuple[float, float, float]] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(cfg.steps):
        if cursor + batch > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor:cursor + batch].tolist()
        cursor += batch
        choice = torch.randint(0, 1 << 30, (batch,), generator=gen).tolist()
        texts = [data.captions[i][c % len(data.captions[i])] for i, c in zip(idx, choice, strict=True)]
        ids, mask = M.pad_batch(texts, max(len(t) for t in texts))
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        aux = model.begin_aux()
        img = model.encode_images(data.pixels[idx])
        txt = model.encode_texts(ids, mask)
        contrastive = M.clip_loss(img, txt, model.logit_scale)
        loss = contrastive
        if aux.layers:
            loss = (loss + cfg.balance_weight * aux.balance / aux.layers
                    + cfg.local_entropy_weight * aux.local_entropy / aux.layers
                    - cfg.global_entropy_weight * aux.global_entropy / aux.layers)
        model.end_aux()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            acc = float((img @ txt.t()).argmax(1).eq(torch.arange(batch)).float().mean())
        balance = float(aux.balance.detach()) / aux.layers if aux.layers else 1.0
        window.append((float(contrastive.detach()), balance, acc))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            c, b, a = (float(np.mean(v)) for v in zip(*window, strict=True))
            history.append({"step": step + 1, "clip_loss": c, "balance": b, "batch_i2t_acc": a})
            log(f"  E={model_cfg.num_experts:<2d} step {step + 1:>5d}/{cfg.steps}  clip {c:.3f}  balance {b:.3f}  "
                f"batch-acc {a:.3f}  lr {_lr_at(step, cfg):.2e}  {time.perf_counter() - start:6.1f}s")
            window = []
    model.eval()
    return model, {"train_seconds": round(time.perf_counter() - start, 2),
                   "train_cpu_seconds": round(time.process_time() - cpu_start, 2), "history": history}


def load_pairs(dataset: Sequence[Any], tokenizer: WordTokenizer | None = None) -> PairData:
    """Decode and preprocess a retrieval dataset once (``RetrievalItem``s)."""
    items = [dataset[i] for i in range(len(dataset))]
    texts = [list(it.captions) for it in items]
    caps = [[tokenizer.encode(c) for c in t] for t in texts] if tokenizer else []
    return PairData(preprocess_images([it.image for it in items]), caps, texts)
