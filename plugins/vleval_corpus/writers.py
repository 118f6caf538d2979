"""Writers in the released formats: Karpathy-split JSON with PNG files, and MMBench TSV with circular rotations."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from vleval.api import CIRCULAR_BASE
from vleval_corpus.assets import Assets
from vleval_corpus.captions import CAPTIONS_PER_IMAGE, COCO_TEMPLATES, FLICKR_TEMPLATES, caption, tokens
from vleval_corpus.layout import Progress
from vleval_corpus.questions import CATEGORIES, OPTION_LETTERS, Question
from vleval_corpus.render import png, render_scene
from vleval_corpus.scenes import Profile, sample_scene

TSV_COLUMNS = (
    "index", "question", "hint", "A", "B", "C", "D", "answer", "category", "l2-category", "image",
    "source", "comment", "split",
)


def write_karpathy(
    directory: Path, assets: Assets, rng: np.random.Generator, profile: Profile, splits: dict[str, int],
    coco: bool, stage: str, progress: Progress | None,
) -> None:
    """Karpathy JSON (Flickr30K or, with ``coco``, COCO layout) and one natural PNG per image under ``directory``."""
    labels = np.array([split for split, count in splits.items() for _ in range(count)])
    labels = labels[rng.permutation(len(labels))]  # splits interleaved, as in the released files
    templates = COCO_TEMPLATES if coco else FLICKR_TEMPLATES
    images_dir = directory / "images"
    records: list[dict[str, Any]] = []
    sentid = 0
    for imgid, split in enumerate(labels.tolist()):
        scene = sample_scene(rng, profile, assets, "train" if split in ("train", "restval") else split)
        chosen = rng.permutation(len(templates))[:CAPTIONS_PER_IMAGE]
        sentences = []
        for t in chosen.tolist():
            raw = caption(scene, rng, templates[t], "coco" if coco else "flickr")
            sentences.append({"tokens": tokens(raw), "raw": raw, "imgid": imgid, "sentid": sentid})
            sentid += 1
        sentids = [s["sentid"] for s in sentences]
        if coco:
            filepath = "train2014" if split == "train" else "val2014"
            cocoid = 100_003 + 7_919 * imgid
            filename = f"COCO_{filepath}_{cocoid:012d}.png"
            record = {"filepath": filepath, "sentids": sentids, "filename": filename, "imgid": imgid,
                      "split": split, "sentences": sentences, "cocoid": cocoid}
            target = images_dir / filepath / filename
        else:
            filename = f"{1_000_268_201 + 104_729 * imgid}.png"
            record = {"sentids": sentids, "imgid": imgid, "sentences": sentences, "split": split,
                      "filename": filename}
            target = images_dir / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png(render_scene(scene, "natural", assets)))
        records.append(record)
        if progress is not None and (imgid + 1) % 250 == 0:
            progress(stage, imgid + 1, len(labels))
    name = "coco" if coco else "flickr30k"
    data = {"images": records, "dataset": f"mini-{'mscoco' if coco else name}"}
    (directory / f"dataset_{name}.json").write_text(json.dumps(data, separators=(", ", ": ")), encoding="utf-8")
    if progress is not None:
        progress(stage, len(labels), len(labels))


def write_tsv(path: Path, questions: list[Question], style: str, assets: Assets) -> None:
    """An MMBench TSV: 4 rotations per question, the image (rendered in ``style``) only in rotation 0's row."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(TSV_COLUMNS)
        n = len(OPTION_LETTERS)
        for q in questions:
            image = base64.b64encode(png(render_scene(q.scene, style, assets))).decode("ascii")
            for r in range(n):
                options = [q.options[(i + r) % n] for i in range(n)]
                answer = OPTION_LETTERS[(q.answer - r) % n]
                writer.writerow([
                    q.base + r * CIRCULAR_BASE, q.question, q.hint, *options, answer, q.category,
                    CATEGORIES[q.category], image if r == 0 else str(q.base), "vleval-mini", "", "dev",
                ])
