"""Image-text retrieval recall, computed as in the Karpathy-split literature (5 captions per image)."""

from __future__ import annotations

import numpy as np

from vleval.api import Metric, MetricValue, RetrievalOutputs, Task, retrieval_ranks
from vleval_metrics.stats import percent_with_ci

KS = (1, 5, 10)


class RetrievalRecall(Metric):
    task = Task.RETRIEVAL
    primary = "rsum"

    def compute(self, outputs: RetrievalOutputs) -> dict[str, MetricValue]:
        sim, owner = np.asarray(outputs.similarity), np.asarray(outputs.text_image)
        n_images, n_texts = sim.shape
        i2t_rank, t2i_rank = retrieval_ranks(sim, owner)
        out = {}
        for k in KS:
            out[f"i2t_r{k}"] = percent_with_ci((i2t_rank < k).astype(float).tolist())
            out[f"t2i_r{k}"] = percent_with_ci((t2i_rank < k).astype(float).tolist(), clusters=owner.tolist())
        out["rsum"] = MetricValue(value=float(sum(v.value for v in out.values())))
        return out
