"""First-party shift plugins for vleval (see :mod:`vleval_shifts.shifts`)."""
