"""Executors: where cells run (this process, a worker process, a Ray cluster) and the runner that feeds
their records to the results file."""
