"""Per-item rows of one domain, built from its task outputs: what a record's sidecar (:mod:`vleval.results.sidecars`)
keeps, one row per evaluated item.

- retrieval: one ``image`` row per image (``i2t_rank``: rank of its best caption) and one ``text`` row per caption
  (``t2i_rank``), both clustered by image;
- multiple choice: one ``question`` row per row of the TSV (``correct``, ``prediction``, ``answer``), clustered by
  circular group (``index % CIRCULAR_BASE``);
- captioning: one ``image`` row per image with the prediction and every per-image score a metric reports
  (``Metric.per_image()``, e.g. CIDEr).
"""

from __future__ import annotations

from typing import Any

from vleval.api import CIRCULAR_BASE, CaptionOutputs, MCOutputs, RetrievalOutputs, TaskOutputs, retrieval_ranks


def rows(outputs: TaskOutputs, items: list[Any], per_image: dict[str, list[float]] | None = None) -> list[dict]:
    """The per-item rows of one domain from its task outputs and items (in evaluation order)."""
    if isinstance(outputs, RetrievalOutputs):
        i2t, t2i = retrieval_ranks(outputs.similarity, outputs.text_image)
        ids = [str(item.id) for item in items]
        out = [{"kind": "image", "id": ids[i], "cluster": ids[i], "i2t_rank": int(r)} for i, r in enumerate(i2t)]
        seen: dict[int, int] = {}
        for image, rank in zip(outputs.text_image, t2i, strict=True):
            j = seen[int(image)] = seen.get(int(image), -1) + 1  # the caption's position among its image's
            out.append({"kind": "text", "id": f"{ids[int(image)]}#{j}", "cluster": ids[int(image)],
                        "t2i_rank": int(rank)})
        return out
    if isinstance(outputs, MCOutputs):
        return [
            {"kind": "question", "id": str(index), "cluster": str(index % CIRCULAR_BASE),
             "correct": prediction is not None and prediction == answer, "prediction": prediction, "answer": answer}
            for index, prediction, answer in zip(outputs.indices, outputs.predictions, outputs.answers, strict=True)
        ]
    if isinstance(outputs, CaptionOutputs):
        out = []
        for i, (item, prediction) in enumerate(zip(items, outputs.predictions, strict=True)):
            row = {"kind": "image", "id": str(item.id), "cluster": str(item.id), "prediction": prediction}
            row.update({name: values[i] for name, values in (per_image or {}).items() if len(values) == len(items)})
            out.append(row)
        return out
    raise TypeError(f"no per-item rows for outputs of type {type(outputs).__name__}")
