"""The confidence level of every interval vleval reports: 95 %."""

#: the percentile bounds of a 95 % bootstrap interval (written out: ``(1 - 0.95) / 2`` is not exactly 0.025)
TAILS = (0.025, 0.975)
#: the standard normal's 97.5 % quantile: a 95 % interval is ``estimate ± Z sd``
Z = 1.959963984540054
