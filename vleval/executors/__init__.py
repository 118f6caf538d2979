"""Executors beyond the built-in ones of :mod:`vleval.isolation`: :mod:`vleval.executors.ray_executor` runs cells as
Ray tasks on a cluster (``vleval run --executor ray``; ``pip install 'vleval[ray]'``)."""
