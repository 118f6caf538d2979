"""Planning: a validated benchmark becomes typed cells, in the order they run."""
