"""Caption quality by corpus BLEU-4 (sacrebleu, as lm-eval uses it)."""

from __future__ import annotations

from vleval.api import CaptionOutputs, Metric, MetricValue, Task


class CaptionBleu(Metric):
    task = Task.CAPTIONING
    primary = "bleu4"

    def compute(self, outputs: CaptionOutputs) -> dict[str, MetricValue]:
        import sacrebleu

        width = max((len(r) for r in outputs.references), default=0)
        streams = [[refs[i] if i < len(refs) else "" for refs in outputs.references] for i in range(width)]
        score = sacrebleu.corpus_bleu(outputs.predictions, streams)
        return {"bleu4": MetricValue(value=float(score.score))}
