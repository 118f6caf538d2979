"""A small offline corpus in the exact formats of Flickr30K/MSCOCO (Karpathy JSON) and MMBench (TSV), and the two
offline shifts over it (``mini-flickr30k->mini-mscoco``, ``mini-natural->synthetic``).

:func:`vleval_corpus.cache.ensure_corpus` generates it once per seed, deterministically, from data the dependencies
ship (scikit-learn's handwritten digits and its two sample photos ``china.jpg``/``flower.jpg``) plus Pillow drawing.
The registered ``karpathy`` and ``mmbench`` datasets read it. Layout under the corpus root
(:class:`vleval_corpus.layout.CorpusPaths`)::

    corpus.json                                 manifest (format, version, seed, sizes, source hashes)
    mini-flickr30k/dataset_flickr30k.json       Karpathy JSON; images in mini-flickr30k/images/
    mini-mscoco/dataset_coco.json               Karpathy JSON (COCO layout, filepath train2014|val2014, cocoid);
                                                images in mini-mscoco/images/<filepath>/
    mini-mmbench-natural.tsv                    MMBench TSV, 4 circular rotations per question
    mini-mmbench-synthetic.tsv                  the same questions and scenes, rendered clean and flat
    mini-mmbench-natural-val.tsv                other scenes (held-out digit samples), for calibration

Modules, one job each: :mod:`~vleval_corpus.layout` (paths, format version), :mod:`~vleval_corpus.assets` (the
sklearn sources), :mod:`~vleval_corpus.scenes` (scene vocabulary and sampling), :mod:`~vleval_corpus.render`
(pixels), :mod:`~vleval_corpus.captions`, :mod:`~vleval_corpus.questions`, :mod:`~vleval_corpus.writers` (Karpathy
JSON, MMBench TSV), :mod:`~vleval_corpus.generate` (sizes, one whole corpus), :mod:`~vleval_corpus.cache` (the cache
directory, atomic generation), :mod:`~vleval_corpus.shifts` and :mod:`~vleval_corpus.plugin` (registration).

**Scenes** (32x32 RGB PNG): one object, either a shape from ``SHAPES`` or a handwritten digit from ``DIGITS``, in a
colour from ``COLORS``, at one of the nine ``POSITIONS`` (a 3x3 grid), of a size from ``SIZES``, with a few small
grey distractor specks or strokes over a background.

**Styles.** *natural*: a desaturated, low-contrast crop of a real photo, handwritten digit strokes (sklearn digits),
colour jitter, gamma/brightness variation and pixel noise. *synthetic*: the same scene on a flat background (the mean
colour of the natural crop), exact palette colours, digits typeset in Pillow's default font, no noise.

**Domains.** mini-flickr30k: china.jpg backgrounds, mostly large objects, 35% digits, uniform colours, 0-1
distractor, Flickr-style captions (``"A red circle in the top left corner."``). mini-mscoco: flower.jpg
backgrounds, mostly small objects, 50% digits, skewed colour frequencies, 1-3 distractors, COCO-style captions
(``"there is a small circle that is red near the upper left"``). Both use the same attribute words (colours, shape
names, ``digit``/``number`` + numeral); the position phrases differ. Every caption names the colour, the object and
the position; some name the size.

**MMBench questions**: category ``color`` (l2 ``attribute_recognition``), ``shape`` (``object_recognition``),
``digit`` (``ocr``) and ``position`` (``spatial_reasoning``). Options are words of the vocabulary: colour names,
shape names, digits ``"0"``-``"9"`` and position names such as ``"top left"``; an image-text model can answer by
scoring the image against each option. Rotation ``r`` of base question ``b`` has index ``b + r * CIRCULAR_BASE`` and
options shifted by ``r``; its ``image`` field is ``b`` (a reference to the first rotation's image, as in the released
MMBench files).

Digit samples are partitioned (by the seed) into train/val/test pools: Karpathy train splits use the train pool,
val splits and the natural-val TSV the val pool, test splits and the natural/synthetic TSVs the test pool.

This package imports nothing heavy at import time (the entry point :mod:`vleval_corpus.plugin` stays light).
"""
