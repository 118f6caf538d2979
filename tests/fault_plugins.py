"""A model that hangs or crashes the interpreter on demand (registered next to toy_plugins by the isolation tests)."""

from __future__ import annotations

import ctypes
import os
import time

from toy_plugins import ToyMoE

from vleval import hookimpl


class CrashingMoE(ToyMoE):
    """The toy model; ``fault`` = ``hang`` (sleeps), ``exit`` (``os._exit(3)``) or ``segv`` (reads address 0)."""

    def __init__(self, fault: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.fault = fault

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
        return super().embed_images(images)


@hookimpl
def register_models(register):
    register(CrashingMoE, name="crashing-moe", version="0.1.0", description="hangs or crashes on demand")
