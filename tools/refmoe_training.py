"""The RefMoE training loop (deterministic for a seed): data container, optimiser, schedule, losses.

Loss = CLIP InfoNCE + ``balance_weight`` x Switch load balancing + LIMoE local/global entropy terms (weights in
:class:`TrainConfig`). Optimiser, schedule, determinism and logging are shared with the caption decoders
(``refmoe_common``). Used by ``tools/train_refmoe.py``; a development tool, not part of the installed package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from refmoe_common import History, OptimConfig, deterministic, optimizer, optimizer_step, set_lr

from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import preprocess_images
from vleval_models.refmoe.tokenizer import WordTokenizer


@dataclass
class TrainConfig(OptimConfig):
    """Settings shared by every encoder variant: the common optimisation ones plus the LIMoE entropy weights."""

    local_entropy_weight: float = 0.0
    global_entropy_weight: float = 0.0


@dataclass
class PairData:
    """Preprocessed images ``[N, 3, S, S]`` and, per image, its captions as token-id lists."""

    pixels: torch.Tensor
    captions: list[list[list[int]]]
    texts: list[list[str]] = field(default_factory=list)


def train_variant(model_cfg: M.RefMoEConfig, data: PairData, cfg: TrainConfig,
                  log: Callable[[str], None] = print) -> tuple[M.RefMoEModel, dict[str, Any]]:
    """Train one variant from scratch (seeded, deterministic); returns the model (eval mode) and training figures."""
    with deterministic(cfg.seed, cfg.threads):
        return _train(model_cfg, data, cfg, log)


def _train(model_cfg: M.RefMoEConfig, data: PairData, cfg: TrainConfig,
           log: Callable[[str], None]) -> tuple[M.RefMoEModel, dict[str, Any]]:
    model = M.RefMoEModel(model_cfg)
    model.train()
    opt = optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = data.pixels.shape[0]
    batch = min(cfg.batch_size, n)
    order, cursor = torch.randperm(n, generator=gen), 0
    history = History(cfg, [("clip_loss", "clip"), ("balance", "balance"), ("batch_i2t_acc", "batch-acc")],
                      f"E={model_cfg.num_experts:<2d}", log, show_lr=True)
    for step in range(cfg.steps):
        if cursor + batch > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor:cursor + batch].tolist()
        cursor += batch
        choice = torch.randint(0, 1 << 30, (batch,), generator=gen).tolist()
        texts = [data.captions[i][c % len(data.captions[i])] for i, c in zip(idx, choice, strict=True)]
        ids, mask = M.pad_batch(texts, max(len(t) for t in texts))
        set_lr(opt, step, cfg)
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
        optimizer_step(model, opt, loss, cfg, f"E={model_cfg.num_experts}", step)
        with torch.no_grad():
            acc = float((img @ txt.t()).argmax(1).eq(torch.arange(batch)).float().mean())
        balance = float(aux.balance.detach()) / aux.layers if aux.layers else 1.0
        history.add(step, float(contrastive.detach()), balance, acc)
    model.eval()
    return model, history.figures()


def load_pairs(dataset: Sequence[Any], tokenizer: WordTokenizer | None = None) -> PairData:
    """Decode and preprocess a retrieval dataset once (``RetrievalItem``s)."""
    items = [dataset[i] for i in range(len(dataset))]
    texts = [list(it.captions) for it in items]
    caps = [[tokenizer.encode(c) for c in t] for t in texts] if tokenizer else []
    return PairData(preprocess_images([it.image for it in items]), caps, texts)
