"""First-party metrics, registered through the ``vleval`` entry point like any third-party plugin."""

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_metrics(register):
    register("vleval_metrics.retrieval:RetrievalRecall", name="retrieval-recall", version="1.0.0",
             description="Recall@1/5/10 image->text and text->image, and RSUM (percent)")
    register("vleval_metrics.choice:Accuracy", name="mc-accuracy", version="1.0.0",
             description="Multiple-choice accuracy over all rows, per category too (percent)")
    register("vleval_metrics.choice:CircularAccuracy", name="circular-accuracy", version="1.0.0",
             description="MMBench CircularEval: a question counts only if every rotation is right (percent)")
    register("vleval_metrics.caption:CaptionBleu", name="caption-bleu", version="1.0.0",
             description="Corpus BLEU-4 of generated captions against the references (sacrebleu)")
