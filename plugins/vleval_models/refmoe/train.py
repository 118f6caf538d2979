"""Train the RefMoE family on the source domain of the offline corpus (deterministic for a seed).

    python -m vleval_models.refmoe.train [--out DIR] [--seed 0] [--experts 1 2 4 8 16] [--steps N] [--threads 2]

Source = mini-flickr30k ``train`` split (one of each image's captions drawn per step); validation on its ``val``
split. Writes ``refmoe-e{E}.safetensors`` per variant, ``refmoe-tokenizer.json`` and ``manifest.json`` (config, seed,
corpus hashes, training time, train/val/test figures, sha256 of every file). Loss = CLIP InfoNCE
+ ``balance_weight`` x Switch load balancing + LIMoE local/global entropy terms (weights in :class:`TrainConfig`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import TOKENIZER_FILE, TRAIN_COMMAND, WEIGHTS_DIR, preprocess_images, weights_file
from vleval_models.refmoe.tokenizer import WordTokenizer

VARIANTS = (1, 2, 4, 8, 16)


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


@torch.inference_mode()
def retrieval_metrics(model: M.RefMoEModel, data: PairData, batch: int = 512) -> dict[str, float]:
    """Recall@{1,5,10} both ways (an image has several captions; a caption has one image)."""
    img = torch.cat([model.encode_images(data.pixels[i:i + batch]) for i in range(0, len(data.pixels), batch)])
    flat = [c for caps in data.captions for c in caps]
    owner = torch.tensor([i for i, caps in enumerate(data.captions) for _ in caps])
    txt = []
    for i in range(0, len(flat), batch):
        chunk = flat[i:i + batch]
        txt.append(model.encode_texts(*M.pad_batch(chunk, max(len(t) for t in chunk))))
    sim = img @ torch.cat(txt).t()  # [images, captions]
    out: dict[str, float] = {}
    i2t_rank = sim.argsort(dim=1, descending=True)
    t2i_rank = sim.t().argsort(dim=1, descending=True)
    for k in (1, 5, 10):
        hit = (owner[i2t_rank[:, :k]] == torch.arange(len(img))[:, None]).any(1)
        out[f"i2t_R@{k}"] = round(100 * float(hit.float().mean()), 2)
        out[f"t2i_R@{k}"] = round(100 * float((t2i_rank[:, :k] == owner[:, None]).any(1).float().mean()), 2)
    out["images"], out["captions"] = len(img), len(flat)
    return out


def mc_metrics(adapter: Any, dataset: Sequence[Any]) -> dict[str, float]:
    """Plain accuracy of ``adapter.score_options`` on an MMBench dataset, with the chance level."""
    items = [dataset[i] for i in range(len(dataset))]
    scores = adapter.score_options(items)
    keys = [list(it.options) for it in items]
    correct = [ks[int(np.argmax(s))] == it.answer for it, ks, s in zip(items, keys, scores, strict=True)]
    groups: dict[int, list[bool]] = {}
    for it, ok in zip(items, correct, strict=True):
        groups.setdefault(it.index % 1_000_000, []).append(ok)
    return {"accuracy": round(100 * float(np.mean(correct)), 2),
            "circular_accuracy": round(100 * float(np.mean([all(v) for v in groups.values()])), 2),
            "chance": round(100 * float(np.mean([1 / len(k) for k in keys])), 2), "items": len(items),
            "questions": len(groups)}


def load_pairs(dataset: Sequence[Any], tokenizer: WordTokenizer | None = None) -> PairData:
    """Decode and preprocess a retrieval dataset once (``RetrievalItem``s)."""
    items = [dataset[i] for i in range(len(dataset))]
    texts = [list(it.captions) for it in items]
    caps = [[tokenizer.encode(c) for c in t] for t in texts] if tokenizer else []
    return PairData(preprocess_images([it.image for it in items]), caps, texts)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corpus(root: str | None, seed: int) -> Any:
    try:
        from vleval_datasets.corpus import ensure_corpus
    except ImportError as exc:  # pragma: no cover - depends on the installed datasets plugin
        raise SystemExit(f"the offline corpus module vleval_datasets.corpus is not available: {exc}") from exc
    return ensure_corpus(root=root, seed=seed)


def _corpus_vocabulary() -> list[str]:
    """Every word the corpus generator can put in a caption (source and target styles), when it says so."""
    try:
        from vleval_datasets.corpus import caption_vocabulary
    except ImportError:  # pragma: no cover - older corpus module
        return []
    return list(caption_vocabulary())


def _previous_manifest(path: Path, current: dict[str, Any]) -> dict[str, Any]:
    """Variants of an earlier manifest in ``path`` that stay valid (same seed, corpus, tokenizer, settings)."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    same = all(old.get(k) == current[k] for k in ("seed", "train_config", "corpus", "tokenizer"))
    files_ok = all((path.parent / v["file"]).is_file() and _sha256(path.parent / v["file"]) == v["sha256"]
                   for v in old.get("variants", {}).values())
    return dict(old.get("variants", {})) if same and files_ok else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=TRAIN_COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="output folder (default: the packaged weights/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--experts", type=int, nargs="+", default=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--threads", type=int, default=TrainConfig.threads)
    parser.add_argument("--balance-weight", type=float, default=TrainConfig.balance_weight)
    parser.add_argument("--local-entropy-weight", type=float, default=TrainConfig.local_entropy_weight)
    parser.add_argument("--global-entropy-weight", type=float, default=TrainConfig.global_entropy_weight)
    parser.add_argument("--corpus-root", default=None, help="corpus folder (default: the corpus module's)")
    args = parser.parse_args(argv)

    from vleval_datasets.karpathy import KarpathyDataset
    from vleval_datasets.mmbench import MMBenchDataset
    from vleval_models.refmoe.adapter import RefMoE

    t_all, cpu_all = time.perf_counter(), time.process_time()
    cfg = TrainConfig(steps=args.steps, seed=args.seed, threads=args.threads, balance_weight=args.balance_weight,
                      local_entropy_weight=args.local_entropy_weight, global_entropy_weight=args.global_entropy_weight)
    set_determinism(cfg.seed, cfg.threads)
    paths = _corpus(args.corpus_root, args.seed)
    splits = {s: KarpathyDataset(paths.flickr_annotations, paths.flickr_images, split=s) for s in ("train", "val",
                                                                                                   "test")}
    texts = [c for i in range(len(splits["train"])) for c in splits["train"][i].captions]
    tokenizer = WordTokenizer.build(texts, extra_words=_corpus_vocabulary())
    data = {s: load_pairs(d, tokenizer) for s, d in splits.items()}
    print(f"corpus {paths.root}: flickr train/val/test = {[len(d.captions) for d in data.values()]} images, "
          f"vocabulary {len(tokenizer)} words", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out / TOKENIZER_FILE)
    mc_sets = {"mmbench_natural": MMBenchDataset(paths.mmbench_natural)}
    if getattr(paths, "mmbench_natural_val", None):
        mc_sets["mmbench_natural_val"] = MMBenchDataset(paths.mmbench_natural_val)
    corpus_hashes = {f"flickr_{s}": d.content_hash() for s, d in splits.items()}
    corpus_hashes.update({k: d.content_hash() for k, d in mc_sets.items()})
    corpus_hash = hashlib.sha256(json.dumps(corpus_hashes, sort_keys=True).encode()).hexdigest()
    manifest: dict[str, Any] = {
        "family": "refmoe", "version": "0.1.0", "seed": cfg.seed, "command": f"{TRAIN_COMMAND} "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "train_config": asdict(cfg), "corpus": {"content_hash": corpus_hash, "datasets": corpus_hashes,
                                                "source": "mini-flickr30k train (val for validation)"},
        "tokenizer": {"file": TOKENIZER_FILE, "sha256": _sha256(out / TOKENIZER_FILE), "vocab_size": len(tokenizer)},
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": cfg.threads},
        "architecture": M.__doc__.strip(),
        "mc_scoring": "cosine similarity of the image with the option text alone (adapter.option_text); chosen "
        "over question+option texts on mini-mmbench-natural-val",
        "variants": {},
    }
    previous = _previous_manifest(out / "manifest.json", manifest)
    manifest["variants"] = {k: v for k, v in previous.items() if int(k[1:]) not in args.experts}
    for experts in args.experts:
        model_cfg = M.variant_config(experts, len(tokenizer))
        print(f"training refmoe-e{experts}: {model_cfg.num_layers} layers (MoE at {model_cfg.moe_layers}), "
              f"top-{model_cfg.top_k}, expert hidden {model_cfg.expert_hidden}", flush=True)
        model, figures = train_variant(model_cfg, data["train"], cfg, log=lambda s: print(s, flush=True))
        path = weights_file(out, experts)
        M.save_model(model, path, metadata={"tokenizer": TOKENIZER_FILE, "seed": cfg.seed,
                                            "corpus_content_hash": corpus_hash,
                                            "tokenizer_sha256": manifest["tokenizer"]["sha256"]})
        adapter = RefMoE(experts=experts, weights_dir=str(out))  # evaluate exactly what was written
        info = adapter.info()
        entry = {
            "file": path.name, "sha256": _sha256(path), "bytes": path.stat().st_size, "config": model_cfg.to_dict(),
            "total_params": info.total_params, "active_params_per_token": info.active_params_per_token,
            "moe_layers": info.moe_layers, "top_k": info.top_k, **figures,
            "train_retrieval": retrieval_metrics(adapter.net, data["train"]),
            "val_retrieval": retrieval_metrics(adapter.net, data["val"]),
            "test_retrieval": retrieval_metrics(adapter.net, data["test"]),
        }
        entry.update({f"{k}_mc": mc_metrics(adapter, d) for k, d in mc_sets.items()})
        manifest["variants"][f"e{experts}"] = entry
        manifest["variants"] = dict(sorted(manifest["variants"].items(), key=lambda kv: int(kv[0][1:])))
        print(f"  refmoe-e{experts}: {entry['train_seconds']}s  val {entry['val_retrieval']}  "
              f"mc {[entry[f'{k}_mc']['accuracy'] for k in mc_sets]}", flush=True)
    manifest["total_seconds"] = round(time.perf_counter() - t_all, 2)
    manifest["total_cpu_seconds"] = round(time.process_time() - cpu_all, 2)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for path in out.iterdir():
        if path.suffix in (".json", ".safetensors"):
            path.chmod(0o644)  # safetensors writes owner-only files
    print(f"wrote {out} in {manifest['total_seconds']}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
