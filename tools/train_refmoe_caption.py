"""Train the RefMoE-Cap caption decoder family on the source domain of the offline corpus (deterministic for a seed).

    python tools/train_refmoe_caption.py [--out DIR] [--seed 0] [--corpus-seed 0] [--experts 1 2 4 8 16]
                                         [--steps N] [--threads 1]

Data: mini-flickr30k ``train`` images and captions (prompt: the shared caption prompt) and the MMBench-style
``mini-mmbench-natural-val`` questions (prompt: the shared MC prompt, target: the answer letter); never the evaluated
test splits. Every variant trains a fixed number of steps and the last step is saved. Writes
``refmoe-cap-e{E}.safetensors``, ``refmoe-cap-tokenizer.json``, ``refmoe-cap-prior.json`` (the blind baseline) and
``manifest-cap.json`` (config, seeds, corpus hashes, training time, and figures from the project's own metrics on
val/test, for the record only) into the packaged ``plugins/vleval_models/refmoe/weights/`` by default, beside the
encoder's files, which it never touches. The loop lives in ``refmoe_caption_training.py``.
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

import torch
from refmoe_caption_training import (
    MAX_TEXT_LEN,
    CaptionTrainConfig,
    blind_prior,
    build_tokenizer,
    caption_examples,
    mc_examples,
    train_decoder,
)
from refmoe_common import parser, variant_entry, write_manifest

from vleval.api import CaptionOutputs, Task, mc_prompt
from vleval.engine.tasks import strategy
from vleval.engine.tasks.captioning import MAX_NEW_TOKENS
from vleval_corpus.cache import ensure_corpus
from vleval_corpus.captions import caption_vocabulary
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset
from vleval_metrics.choice import Accuracy, CircularAccuracy
from vleval_metrics.coco_caption import CocoCaption
from vleval_models.refmoe import decoder as D
from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import file_sha256
from vleval_models.refmoe.caption_adapter import (
    CAP_MANIFEST,
    CAP_TOKENIZER_FILE,
    CAP_TRAIN_COMMAND,
    PRIOR_FILE,
    RefMoECap,
    cap_weights_file,
)


def caption_figures(adapter: Any, items: Sequence[Any]) -> dict[str, float]:
    """CIDEr / BLEU-4 / ROUGE-L (``coco-caption``, python tokenizer) of greedy captions, as a benchmark makes them."""
    runner = strategy(Task.CAPTIONING, adapter)
    preds = [text for i in range(0, len(items), 64) for text in runner.call(items[i:i + 64])]
    values = CocoCaption(tokenizer="python", meteor=False).compute(
        CaptionOutputs(predictions=preds, references=[list(it.captions) for it in items]))
    return {k: round(values[k].value, 2) for k in ("cider", "bleu_4", "rouge_l")} | {"images": len(items)}


def mc_figures(adapter: Any, items: Sequence[Any]) -> dict[str, float]:
    """Accuracy and CircularEval accuracy of letters generated and extracted as a benchmark does."""
    runner = strategy(Task.MULTIPLE_CHOICE, adapter, mc_mode="generate")
    outputs = runner.outputs([runner.call(items[i:i + 64]) for i in range(0, len(items), 64)], list(items))
    answered = sum(p is not None for p in outputs.predictions)
    return {"accuracy": round(Accuracy().compute(outputs)["accuracy"].value, 2),
            "circular_accuracy": round(CircularAccuracy().compute(outputs)["circular_accuracy"].value, 2),
            "answered": answered, "items": len(items)}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    return parser(CAP_TRAIN_COMMAND, __doc__, CaptionTrainConfig()).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    t_all, cpu_all = time.perf_counter(), time.process_time()
    cfg = CaptionTrainConfig(steps=args.steps, seed=args.seed, threads=args.threads)
    paths = ensure_corpus(root=args.corpus_root, seed=args.corpus_seed)
    flickr = {s: KarpathyDataset(paths.flickr_annotations, paths.flickr_images, split=s) for s in ("train", "val",
                                                                                                  "test")}
    coco_test = KarpathyDataset(paths.coco_annotations, paths.coco_images, split="test")
    mc_sets = {"mmbench_natural_val": MMBenchDataset(paths.mmbench_natural_val),
               "mmbench_natural": MMBenchDataset(paths.mmbench_natural)}
    items = {k: [d[i] for i in range(len(d))] for k, d in
             {**{f"flickr_{s}": d for s, d in flickr.items()}, "coco_test": coco_test, **mc_sets}.items()}
    captions = [c for it in items["flickr_train"] for c in it.captions]
    mc_train = items["mmbench_natural_val"]
    tokenizer = build_tokenizer(captions, [mc_prompt(it) for it in mc_train], extra=caption_vocabulary())
    cap_data, mc_data = caption_examples(items["flickr_train"], tokenizer), mc_examples(mc_train, tokenizer)
    print(f"corpus {paths.root}: {len(cap_data.prompts)} train images, {len(mc_data.prompts)} MC training "
          f"questions (natural val), vocabulary {len(tokenizer)}", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out / CAP_TOKENIZER_FILE)
    prior = blind_prior(captions, [it.answer for it in mc_train])
    (out / PRIOR_FILE).write_text(json.dumps(prior, indent=1) + "\n")
    hashes = {f"flickr_{s}": d.content_hash() for s, d in flickr.items()}
    hashes |= {"coco_test": coco_test.content_hash(), **{k: d.content_hash() for k, d in mc_sets.items()}}
    corpus_hash = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    manifest: dict[str, Any] = {
        "family": "refmoe-cap", "version": "0.1.0", "seed": cfg.seed,
        "command": f"{CAP_TRAIN_COMMAND} " + " ".join(sys.argv[1:] if argv is None else argv),
        "train_config": asdict(cfg),
        "corpus": {"seed": args.corpus_seed, "content_hash": corpus_hash, "datasets": hashes,
                   "source": "mini-flickr30k train captions + mini-mmbench-natural-val questions"},
        "tokenizer": {"file": CAP_TOKENIZER_FILE, "sha256": file_sha256(out / CAP_TOKENIZER_FILE),
                      "vocab_size": len(tokenizer)},
        "blind_baseline": {"file": PRIOR_FILE, **prior},
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": cfg.threads},
        "architecture": D.__doc__.strip(), "max_new_tokens": MAX_NEW_TOKENS, "variants": {},
    }
    old = json.loads((out / CAP_MANIFEST).read_text()) if (out / CAP_MANIFEST).is_file() else {}
    if all(old.get(k) == manifest[k] for k in ("seed", "train_config", "corpus", "tokenizer")):
        manifest["variants"] = {k: v for k, v in old.get("variants", {}).items() if int(k[1:]) not in args.experts}
    for experts in args.experts:
        model_cfg = M.variant_config(experts, len(tokenizer), max_text_len=MAX_TEXT_LEN)
        print(f"training refmoe-cap-e{experts}: {model_cfg.num_layers} layers (MoE at {model_cfg.moe_layers}), "
              f"top-{model_cfg.top_k}, expert hidden {model_cfg.expert_hidden}", flush=True)
        model, figures = train_decoder(model_cfg, cap_data, mc_data, cfg, log=lambda s: print(s, flush=True))
        path = cap_weights_file(out, experts)
        D.save_decoder(model, path, metadata={"tokenizer": CAP_TOKENIZER_FILE, "seed": cfg.seed,
                                              "corpus_content_hash": corpus_hash,
                                              "tokenizer_sha256": manifest["tokenizer"]["sha256"]})
        adapter = RefMoECap(experts=experts, weights_dir=str(out))  # evaluate exactly what was written
        entry = variant_entry(path, model_cfg, adapter.info(), figures)
        entry |= {f"{k}_caption": caption_figures(adapter, items[k]) for k in ("flickr_test", "coco_test")}
        entry["mmbench_natural_mc"] = mc_figures(adapter, items["mmbench_natural"])
        manifest["variants"][f"e{experts}"] = entry
        manifest["variants"] = dict(sorted(manifest["variants"].items(), key=lambda kv: int(kv[0][1:])))
        print(f"  refmoe-cap-e{experts}: {entry['train_seconds']}s  flickr test CIDEr "
              f"{entry['flickr_test_caption']['cider']}  coco test CIDEr {entry['coco_test_caption']['cider']}  "
              f"mc {entry['mmbench_natural_mc']['accuracy']}", flush=True)
    write_manifest(out / CAP_MANIFEST, manifest, t_all, cpu_all,
                   lambda f: f.name.startswith(("refmoe-cap", "manifest-cap")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
