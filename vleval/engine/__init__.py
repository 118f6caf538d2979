"""The engine: one cell becomes one record. Each module has one job: the plugin instances a process shares
(``instances``, with ``metric_selection`` and both in a ``session``), checks before any work (``preflight``), cell
identity (``identity``), provenance (``provenance``), calibration for pruning (``calibration``), the passes and
measurements (``execute``, ``passes``, ``latency``, ``machine_load``, ``routing``, ``checks``, ``prepared``), the
per-item rows (``item_rows``), the machine's fingerprint (``environment``) and what a run reports (``progress``)."""
