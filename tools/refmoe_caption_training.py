"""The RefMoE-Cap training loop (deterministic for a seed): data, batches, losses, evaluation helpers.

Each step draws a batch of mini-Flickr30K **train** images with one of their captions (prompt: the shared
``CAPTION_PROMPT``) and a smaller batch of MMBench-style **val** questions (prompt: the shared ``mc_prompt``, target:
the answer letter); loss = caption cross-entropy + ``mc_weight`` x letter cross-entropy + ``balance_weight`` x Switch
load balancing. Optimiser, schedule, determinism and logging are the encoder's (``refmoe_common``). Used by
``tools/train_refmoe_caption.py``; a development tool, not part of the installed package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from refmoe_common import History, OptimConfig, deterministic, optimizer, optimizer_step, set_lr

from vleval.api import CAPTION_PROMPT, Prompt, mc_prompt
from vleval_models.refmoe import decoder as D
from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import preprocess_images
from vleval_models.refmoe.tokenizer import CaptionTokenizer, words

#: Text positions of the decoder: the longest corpus MC prompt (45 ids with ``[BOS]``) plus a short answer, or a
#: caption prompt plus the longest caption.
MAX_TEXT_LEN = 64


@dataclass
class CaptionTrainConfig(OptimConfig):
    """Settings shared by every decoder variant: the common optimisation ones (decoder defaults) plus the
    multiple-choice batch and weight."""

    steps: int = 800
    batch_size: int = 64  # caption examples per step
    warmup_steps: int = 50
    threads: int = 1  # one thread: steady on a shared 2-core machine, and the run stays bit-reproducible
    mc_batch_size: int = 16  # multiple-choice examples per step
    mc_weight: float = 1.0


@dataclass
class Examples:
    """Preprocessed images ``[N, 3, S, S]``, encoded prompts (with ``[BOS]``) and targets (with ``[EOS]``) per image."""

    pixels: torch.Tensor
    prompts: list[list[int]]
    targets: list[list[list[int]]]


def build_tokenizer(captions: Sequence[str], mc_prompts: Sequence[str], extra: Sequence[str] = ()) -> CaptionTokenizer:
    return CaptionTokenizer.build([*captions, *mc_prompts, CAPTION_PROMPT], extra_words=extra, max_len=MAX_TEXT_LEN)


def caption_examples(items: Sequence[Any], tok: CaptionTokenizer) -> Examples:
    """``RetrievalItem``/``CaptionItem``s → examples with the caption prompt and every caption as a target."""
    prompt = tok.encode_prompt(CAPTION_PROMPT)
    refs = [list(getattr(it, "captions", None) or it.references) for it in items]
    return Examples(preprocess_images([it.image for it in items]), [prompt] * len(items),
                    [[tok.encode_target(c) for c in r] for r in refs])


def mc_examples(items: Sequence[Any], tok: CaptionTokenizer) -> Examples:
    """``MCItem``s → examples with the MMBench-style prompt and the answer letter as the target."""
    return Examples(preprocess_images([it.image for it in items]), [tok.encode_prompt(mc_prompt(it)) for it in items],
                    [[tok.encode_target(it.answer)] for it in items])


def batch_tensors(ex: Examples, idx: Sequence[int], choice: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """Pixels, image presence, left-padded prompts and right-padded targets of the examples ``idx``."""
    prompts = [ex.prompts[i] for i in idx]
    targets = [ex.targets[i][c % len(ex.targets[i])] for i, c in zip(idx, choice, strict=True)]
    pw, tw = max(map(len, prompts)), max(map(len, targets)) + 1
    p = torch.zeros(len(idx), pw, dtype=torch.long)
    t = torch.zeros(len(idx), tw, dtype=torch.long)
    for row, (a, b) in enumerate(zip(prompts, targets, strict=True)):
        p[row, pw - len(a):] = torch.tensor(a)
        t[row, :len(b)] = torch.tensor(b)
    return ex.pixels[list(idx)], torch.ones(len(idx), dtype=torch.bool), p, t


class _Sampler:
    """Epoch-wise shuffled indices and a random target choice per example (one torch Generator)."""

    def __init__(self, n: int, gen: torch.Generator):
        self.n, self.gen, self.order, self.cursor = n, gen, torch.randperm(n, generator=gen), 0

    def draw(self, size: int) -> tuple[list[int], list[int]]:
        size = min(size, self.n)
        if self.cursor + size > self.n:
            self.order, self.cursor = torch.randperm(self.n, generator=self.gen), 0
        idx = self.order[self.cursor:self.cursor + size].tolist()
        self.cursor += size
        return idx, torch.randint(0, 1 << 30, (size,), generator=self.gen).tolist()


def train_decoder(model_cfg: M.RefMoEConfig, captions: Examples, mc: Examples | None, cfg: CaptionTrainConfig,
                  log: Callable[[str], None] = print) -> tuple[D.CaptionDecoder, dict[str, Any]]:
    """Train one decoder variant from scratch (seeded, deterministic); returns it (eval mode) and its figures."""
    with deterministic(cfg.seed, cfg.threads):
        model = D.CaptionDecoder(model_cfg)
        model.train()
        opt = optimizer(model, cfg)
        gen = torch.Generator().manual_seed(cfg.seed)
        cap_sampler = _Sampler(len(captions.prompts), gen)
        mc_sampler = _Sampler(len(mc.prompts), gen) if mc is not None and cfg.mc_batch_size else None
        history = History(cfg, [("caption_loss", "caption"), ("mc_loss", "mc"), ("balance", "balance")],
                          f"E={model_cfg.num_experts:<2d}", log)
        for step in range(cfg.steps):
            set_lr(opt, step, cfg)
            aux = model.begin_aux()
            cap_loss = model.loss(*batch_tensors(captions, *cap_sampler.draw(cfg.batch_size)))
            mc_loss = (model.loss(*batch_tensors(mc, *mc_sampler.draw(cfg.mc_batch_size)))
                       if mc_sampler is not None else torch.zeros(()))
            balance = aux.balance / aux.layers if aux.layers else torch.zeros(())
            loss = cap_loss + cfg.mc_weight * mc_loss + cfg.balance_weight * balance
            model.end_aux()
            optimizer_step(model, opt, loss, cfg, f"E={model_cfg.num_experts}", step)
            history.add(step, float(cap_loss.detach()), float(mc_loss.detach()),
                        float(torch.as_tensor(balance).detach()))
        model.eval()
        return model, history.figures()


def most_frequent(values: Sequence[str]) -> tuple[str, int]:
    """The most frequent value and its count (ties: the alphabetically first)."""
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best), best


def blind_prior(captions: Sequence[str], answers: Sequence[str]) -> dict[str, Any]:
    """The blind baseline's outputs: the most frequent training caption (as words) and answer letter."""
    caption, count = most_frequent([" ".join(words(c)) for c in captions])
    letter, letter_count = most_frequent(list(answers)) if answers else ("A", 0)
    return {"caption": caption, "caption_count": count, "captions": len(captions), "answer_letter": letter,
            "answer_letter_count": letter_count, "answers": len(answers)}


def caption_prompts(items: Sequence[Any], max_new_tokens: int) -> list[Prompt]:
    return [Prompt(CAPTION_PROMPT, it.image, max_new_tokens=max_new_tokens) for it in items]
