"""One whole corpus for a seed, written into a directory: sizes, the order of the parts, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path

from vleval_corpus.assets import Assets
from vleval_corpus.layout import CORPUS_FORMAT, CORPUS_VERSION, MANIFEST, CorpusPaths, Progress
from vleval_corpus.questions import OPTION_LETTERS, sample_questions
from vleval_corpus.scenes import COCO, FLICKR, stream_rng
from vleval_corpus.writers import write_karpathy, write_tsv

#: Images per split.
FLICKR_SPLITS: dict[str, int] = {"train": 1600, "val": 200, "test": 200}
COCO_SPLITS: dict[str, int] = {"train": 400, "val": 100, "test": 200}
#: Base questions (each written as 4 rotations) in the natural/synthetic TSVs and in the natural-val TSV.
MMBENCH_QUESTIONS = 150
MMBENCH_VAL_QUESTIONS = 100


def generate(directory: Path, seed: int, progress: Progress | None) -> None:
    """Write the corpus for ``seed`` into the existing, empty ``directory`` (manifest last)."""
    assets = Assets(seed)
    paths = CorpusPaths.at(directory)
    paths.flickr_images.mkdir(parents=True)
    paths.coco_images.mkdir(parents=True)
    write_karpathy(paths.flickr_annotations.parent, assets, stream_rng(seed, "flickr"), FLICKR, FLICKR_SPLITS,
                   False, "mini-flickr30k", progress)
    write_karpathy(paths.coco_annotations.parent, assets, stream_rng(seed, "coco"), COCO, COCO_SPLITS,
                   True, "mini-mscoco", progress)
    questions = sample_questions(stream_rng(seed, "mmbench"), assets, MMBENCH_QUESTIONS, "test")
    write_tsv(paths.mmbench_natural, questions, "natural", assets)
    write_tsv(paths.mmbench_synthetic, questions, "synthetic", assets)
    val_questions = sample_questions(stream_rng(seed, "mmbench-val"), assets, MMBENCH_VAL_QUESTIONS, "val")
    write_tsv(paths.mmbench_natural_val, val_questions, "natural", assets)
    if progress is not None:
        progress("mini-mmbench", 1, 1)
    manifest = {
        "format": CORPUS_FORMAT, "version": CORPUS_VERSION, "seed": seed,
        "sizes": {"mini-flickr30k": FLICKR_SPLITS, "mini-mscoco": COCO_SPLITS,
                  "mini-mmbench": {"questions": MMBENCH_QUESTIONS, "rotations": len(OPTION_LETTERS)},
                  "mini-mmbench-val": {"questions": MMBENCH_VAL_QUESTIONS, "rotations": len(OPTION_LETTERS)}},
        "sources": assets.sources,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
