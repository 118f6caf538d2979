"""A model that hangs, crashes the interpreter or waits at a gate on demand (registered next to toy_plugins by the
isolation and fault-injection tests)."""

from __future__ import annotations

import ctypes
import itertools
import os
import time
from pathlib import Path

from toy_plugins import ToyMoE

from vleval import hookimpl

GATE_ENV = "VLEVAL_TEST_GATE"  # a folder: ``fault = "gate"`` models wait there (unset: they pass straight through)
GATE_POLL_S = 0.01
ARRIVALS = itertools.count(1)  # the models of this process that reached the gate, numbered from 1


def wait_at_gate() -> None:
    """Write ``arrived-<n>`` into the gate folder (``n``: this process's n-th model to arrive) and wait until the
    test writes ``pass-<n>`` there, or kills the run: the run is then stopped mid-cell at a known point."""
    folder = os.environ.get(GATE_ENV)
    if not folder:
        return
    n = next(ARRIVALS)
    (Path(folder) / f"arrived-{n}").write_text(str(os.getpid()))
    while not (Path(folder) / f"pass-{n}").exists():
        time.sleep(GATE_POLL_S)


class CrashingMoE(ToyMoE):
    """The toy model; ``fault`` = ``hang`` (sleeps), ``exit`` (``os._exit(3)``), ``segv`` (reads address 0) or
    ``gate`` (its first image batch waits at :data:`GATE_ENV`'s gate; one model per cell in an ``experts`` sweep)."""

    def __init__(self, fault: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.fault = fault
        self.gated = False

    def embed_images(self, images):
        if self.fault == "hang":
            mark = os.environ.get("VLEVAL_TEST_HANG_MARK")
            if mark:
                with open(mark, "w") as handle:
                    handle.write(str(os.getpid()))
            time.sleep(600)
        elif self.fault == "exit":
            os._exit(3)
        elif self.fault == "segv":
            ctypes.string_at(0)
        elif self.fault == "gate" and not self.gated:
            self.gated = True
            wait_at_gate()
        return super().embed_images(images)


@hookimpl
def register_models(register):
    register(CrashingMoE, name="crashing-moe", version="0.1.0", description="hangs, crashes or waits at a gate")
