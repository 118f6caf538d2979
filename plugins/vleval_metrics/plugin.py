"""First-party metrics, registered through the ``vleval`` entry point like any third-party plugin."""

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_metrics(register):
    register("vleval_metrics.retrieval:RetrievalRecall", name="retrieval-recall", version="1.0.0",
             description="Recall@1/5/10 image->text and text->image, and RSUM (percent)")
    register("vleval_metrics.choice:Accuracy", name="mc-accuracy", version="1.1.0",
             description="Multiple-choice accuracy (VLMEvalKit extraction or strict), per category and l2 (percent)")
    register("vleval_metrics.choice:CircularAccuracy", name="circular-accuracy", version="1.1.0",
             description="MMBench CircularEval grouped as VLMEvalKit does, per category and l2 (percent)")
    register("vleval_metrics.caption:CaptionBleu", name="caption-bleu", version="1.0.0",
             description="Corpus BLEU-4 of generated captions against the references (sacrebleu)")
    register("vleval_metrics.coco_caption:CocoCaption", name="coco-caption", version="1.0.0",
             description="BLEU-1..4, METEOR, ROUGE-L, CIDEr-D as pycocoevalcap computes them (x100)")
