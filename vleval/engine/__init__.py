"""The engine: one cell becomes one record (plugins resolved, data prepared, outputs checked, latency
and routing measured)."""
