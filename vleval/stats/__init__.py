"""Statistics: one engine for intervals and tests (:mod:`~vleval.stats.bootstrap`, :mod:`~vleval.stats.outcomes`,
:mod:`~vleval.stats.differences`, :mod:`~vleval.stats.pvalues`), the pooling of replicates, and the analyses built
on them (item-by-item comparison, corruption robustness, routing, correlation)."""
