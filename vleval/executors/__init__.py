"""Executors: where cells run (:class:`~vleval.executors.base.Executor`: this process, a worker process, a Ray
cluster) and the runner that feeds their records to the results file."""
