"""Train the RefMoE family on the source domain of the offline corpus (deterministic for a seed).

    python tools/train_refmoe.py [--out DIR] [--seed 0] [--experts 1 2 4 8 16] [--steps N] [--threads 2]

Source = mini-flickr30k ``train`` split (one of each image's captions drawn per step); every variant trains a fixed
number of steps and the last step is saved (no checkpoint selection). Writes ``refmoe-e{E}.safetensors`` per variant,
``refmoe-tokenizer.json`` and ``manifest.json`` (config, seed, corpus hashes, training time, and train/val/test
figures computed with the project's own metrics, ``vleval_metrics``, for the record only). Default output: the
packaged ``plugins/vleval_models/refmoe/weights/`` of this checkout. The loop lives in ``refmoe_training.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from refmoe_common import parser, set_determinism, variant_entry, write_manifest
from refmoe_training import PairData, TrainConfig, load_pairs, train_variant

from vleval.api import RetrievalOutputs, Task
from vleval.engine.tasks import strategy
from vleval_corpus.cache import ensure_corpus
from vleval_corpus.captions import caption_vocabulary
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset
from vleval_metrics.choice import Accuracy, CircularAccuracy
from vleval_metrics.retrieval import KS, RetrievalRecall
from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import TOKENIZER_FILE, TRAIN_COMMAND, RefMoE, file_sha256, weights_file
from vleval_models.refmoe.tokenizer import WordTokenizer


def retrieval_figures(similarity: np.ndarray, text_image: np.ndarray) -> dict[str, float]:
    """``vleval_metrics`` retrieval recall as the manifest records it: ``i2t_R@k``/``t2i_R@k`` in percent, rounded."""
    values = RetrievalRecall().compute(RetrievalOutputs(similarity=similarity, text_image=text_image))
    out: dict[str, float] = {}
    for k in KS:
        out[f"i2t_R@{k}"] = round(values[f"i2t_r{k}"].value, 2)
        out[f"t2i_R@{k}"] = round(values[f"t2i_r{k}"].value, 2)
    out["images"], out["captions"] = similarity.shape
    return out


@torch.inference_mode()
def retrieval_metrics(model: M.RefMoEModel, data: PairData, batch: int = 512) -> dict[str, float]:
    """Recall@{1,5,10} both ways of ``model`` on preprocessed pairs (an image has several captions)."""
    img = torch.cat([model.encode_images(data.pixels[i:i + batch]) for i in range(0, len(data.pixels), batch)])
    flat = [c for caps in data.captions for c in caps]
    owner = np.array([i for i, caps in enumerate(data.captions) for _ in caps])
    txt = []
    for i in range(0, len(flat), batch):
        chunk = flat[i:i + batch]
        txt.append(model.encode_texts(*M.pad_batch(chunk, max(len(t) for t in chunk))))
    return retrieval_figures((img @ torch.cat(txt).t()).numpy(), owner)


def mc_metrics(adapter: RefMoE, dataset: Sequence[Any]) -> dict[str, float]:
    """Accuracy and CircularEval accuracy (``vleval_metrics``, predictions as a benchmark run makes them), chance."""
    items = [dataset[i] for i in range(len(dataset))]
    scoring = strategy(Task.MULTIPLE_CHOICE, adapter, mc_mode="score")
    outputs = scoring.outputs([scoring.call(items)], items)
    accuracy = Accuracy().compute(outputs)
    circular = CircularAccuracy().compute(outputs)
    return {"accuracy": round(accuracy["accuracy"].value, 2),
            "circular_accuracy": round(circular["circular_accuracy"].value, 2),
            "chance": round(100 * float(np.mean([1 / len(it.options) for it in items])), 2), "items": len(items),
            "questions": int(circular["questions"].value + circular["incomplete_questions"].value)}


def _previous_manifest(path: Path, current: dict[str, Any]) -> dict[str, Any]:
    """Variants of an earlier manifest in ``path`` that stay valid (same seed, corpus, tokenizer, settings)."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    same = all(old.get(k) == current[k] for k in ("seed", "train_config", "corpus", "tokenizer"))
    files_ok = all((path.parent / v["file"]).is_file() and file_sha256(path.parent / v["file"]) == v["sha256"]
                   for v in old.get("variants", {}).values())
    return dict(old.get("variants", {})) if same and files_ok else {}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    options = parser(TRAIN_COMMAND, __doc__, TrainConfig())
    options.add_argument("--balance-weight", type=float, default=TrainConfig.balance_weight)
    options.add_argument("--local-entropy-weight", type=float, default=TrainConfig.local_entropy_weight)
    options.add_argument("--global-entropy-weight", type=float, default=TrainConfig.global_entropy_weight)
    return options.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    t_all, cpu_all = time.perf_counter(), time.process_time()
    cfg = TrainConfig(steps=args.steps, seed=args.seed, threads=args.threads, balance_weight=args.balance_weight,
                      local_entropy_weight=args.local_entropy_weight, global_entropy_weight=args.global_entropy_weight)
    set_determinism(cfg.seed, cfg.threads)
    paths = ensure_corpus(root=args.corpus_root, seed=args.corpus_seed)
    splits = {s: KarpathyDataset(paths.flickr_annotations, paths.flickr_images, split=s)
              for s in ("train", "val", "test")}
    texts = [c for i in range(len(splits["train"])) for c in splits["train"][i].captions]
    tokenizer = WordTokenizer.build(texts, extra_words=caption_vocabulary())
    data = {s: load_pairs(d, tokenizer) for s, d in splits.items()}
    print(f"corpus {paths.root}: flickr train/val/test = {[len(d.captions) for d in data.values()]} images, "
          f"vocabulary {len(tokenizer)} words", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out / TOKENIZER_FILE)
    mc_sets = {"mmbench_natural": MMBenchDataset(paths.mmbench_natural),
               "mmbench_natural_val": MMBenchDataset(paths.mmbench_natural_val)}
    corpus_hashes = {f"flickr_{s}": d.content_hash() for s, d in splits.items()}
    corpus_hashes.update({k: d.content_hash() for k, d in mc_sets.items()})
    corpus_hash = hashlib.sha256(json.dumps(corpus_hashes, sort_keys=True).encode()).hexdigest()
    manifest: dict[str, Any] = {
        "family": "refmoe", "version": "0.1.0", "seed": cfg.seed, "command": f"{TRAIN_COMMAND} "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "train_config": asdict(cfg),
        "corpus": {"seed": args.corpus_seed, "content_hash": corpus_hash, "datasets": corpus_hashes,
                   "source": "mini-flickr30k train (val for validation)"},
        "tokenizer": {"file": TOKENIZER_FILE, "sha256": file_sha256(out / TOKENIZER_FILE),
                      "vocab_size": len(tokenizer)},
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
        entry = variant_entry(path, model_cfg, adapter.info(), figures)
        entry.update({f"{s}_retrieval": retrieval_metrics(adapter.net, data[s]) for s in ("train", "val", "test")})
        entry.update({f"{k}_mc": mc_metrics(adapter, d) for k, d in mc_sets.items()})
        manifest["variants"][f"e{experts}"] = entry
        manifest["variants"] = dict(sorted(manifest["variants"].items(), key=lambda kv: int(kv[0][1:])))
        print(f"  refmoe-e{experts}: {entry['train_seconds']}s  val {entry['val_retrieval']}  "
              f"mc {[entry[f'{k}_mc']['accuracy'] for k in mc_sets]}", flush=True)
    write_manifest(out / "manifest.json", manifest, t_all, cpu_all, lambda f: f.suffix in (".json", ".safetensors"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
