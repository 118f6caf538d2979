"""RefMoE: the reference family of tiny trained MoE vision-language encoders (``model``, ``adapter``, packaged
``weights/``; trained by ``tools/train_refmoe.py`` in the source checkout)."""
