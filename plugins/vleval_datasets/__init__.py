"""First-party dataset plugins for vleval: ``karpathy`` and ``mmbench`` loaders and an offline mini corpus."""
