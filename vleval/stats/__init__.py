"""Statistics: the one engine for intervals, paired differences, equivalence and multiplicity, and the
analyses built on it."""
