"""Entry modules load no heavy library: ``vleval --help`` and ``vleval plugins``, every plugin entry point (its hooks
called too) and the Ray task module leave torch, transformers, lm-eval and the other heavy imports to the code that
needs them.

Each case runs in a fresh interpreter, since this test session has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from vleval.api import hookspecs

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("register_"))
PROBE = """
import importlib, json, sys
for name in {modules!r}:
    module = importlib.import_module(name)
    for hook in {hooks!r}:  # registering must stay light too: factories are named, not imported
        if hasattr(module, hook):
            getattr(module, hook)(lambda factory, **metadata: None)
{then}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""
CLI = "from vleval.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"


@dataclass(frozen=True)
class LightImport:
    """Import ``modules`` (calling their plugin hooks), run ``then``: none of ``heavy`` may be imported."""

    name: str
    modules: tuple[str, ...]
    heavy: tuple[str, ...]
    then: str = ""


CASES = [
    LightImport("vleval --help", ("vleval.cli",), ("torch", "transformers", "lm_eval"), CLI.format(argv=["--help"])),
    LightImport("vleval plugins", ("vleval.cli",), ("torch", "transformers", "lm_eval"),
                CLI.format(argv=["plugins"])),
    LightImport("refmoe plugin", ("vleval_models.refmoe.plugin",), ("torch",)),
    LightImport("hf plugin", ("vleval_models.hf.plugin",), ("torch", "transformers")),
    LightImport("lm-eval bridge", ("vleval_models.hf.lm_eval_bridge",), ("lm_eval",)),
    LightImport("corpus plugin", ("vleval_corpus.plugin", "vleval_corpus.cache", "vleval_corpus.shifts"),
                ("torch", "PIL", "numpy", "sklearn")),
    LightImport("datasets plugin", ("vleval_datasets.plugin",), ("torch", "PIL", "numpy", "transformers", "sklearn")),
    LightImport("shifts plugin", ("vleval_shifts.plugin",),
                ("torch", "PIL", "numpy", "scipy", "transformers", "sklearn")),
    LightImport("openai plugin", ("vleval_openai.plugin",), ("httpx", "torch", "transformers", "numpy")),
    # a Ray task imports it first, to set thread counts before numpy or torch read them
    LightImport("ray worker", ("vleval.executors.ray_worker",), ("numpy", "torch", "ray")),
]


def heavy_imports(case: LightImport) -> list[str]:
    """The heavy modules that ``case`` imported, from a fresh interpreter."""
    code = PROBE.format(modules=case.modules, hooks=HOOKS, then=case.then, heavy=case.heavy)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_entry_module_imports_no_heavy_library(case):
    assert heavy_imports(case) == []


@pytest.mark.slow
def test_the_probe_sees_a_heavy_import():
    """The check can fail: a heavy import after the light ones is caught, and only what was imported is named."""
    case = LightImport("a numpy import", ("vleval_models.refmoe.plugin",), ("numpy", "torch"), "import numpy")
    assert heavy_imports(case) == ["numpy"]
