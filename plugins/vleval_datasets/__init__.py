"""First-party dataset plugins for vleval: the ``karpathy`` (Karpathy-split JSON), ``coco-captions``
(COCO caption JSON) and ``mmbench`` (TSV) loaders.

They read the real files and the offline corpus :mod:`vleval_corpus` generates in the same formats.
"""
