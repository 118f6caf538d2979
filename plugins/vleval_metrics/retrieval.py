"""Image-text retrieval recall, computed as in the Karpathy-split literature (5 captions per image)."""

from __future__ import annotations

import numpy as np

from vleval.api import Metric, MetricValue, RetrievalOutputs, Task
from vleval_metrics.stats import percent_with_ci

KS = (1, 5, 10)


class RetrievalRecall(Metric):
    task = Task.RETRIEVAL
    primary = "rsum"

    def compute(self, outputs: RetrievalOutputs) -> dict[str, MetricValue]:
        sim, owner = np.asarray(outputs.similarity), np.asarray(outputs.text_image)
        n_images = sim.shape[0]
        # image -> text: rank of the best-ranked caption that belongs to the image
        order = np.argsort(-sim, axis=1, kind="stable")
        correct = owner[order] == np.arange(n_images)[:, None]
        i2t_rank = correct.argmax(axis=1)
        # text -> image: rank of the caption's own image
        t_order = np.argsort(-sim.T, axis=1, kind="stable")
        t2i_rank = (t_order == owner[:, None]).argmax(axis=1)
        out = {}
        for k in KS:
            out[f"i2t_r{k}"] = percent_with_ci((i2t_rank < k).astype(float).tolist())
            out[f"t2i_r{k}"] = percent_with_ci((t2i_rank < k).astype(float).tolist(), clusters=owner.tolist())
        out["rsum"] = MetricValue(value=float(sum(v.value for v in out.values())))
        return out
