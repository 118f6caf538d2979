"""The hardware/software fingerprint every record carries."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
import os
import platform
import sys
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint(device: str = "cpu") -> dict[str, Any]:
    """Versions and hardware; ``hardware_id`` hashes what makes latencies comparable."""
    import torch

    env = {**_static(str(device)), "torch_threads": torch.get_num_threads(), "device": device}
    hw = f"{env['cpu']}|{env['cpu_count']}|{env['gpu']}|{env['torch_threads']}|{env['torch']}|{sys.platform}"
    env["hardware_id"] = hashlib.sha256(hw.encode()).hexdigest()[:16]
    return env


@functools.lru_cache(maxsize=8)
def _static(device: str) -> dict[str, Any]:
    """What does not change while a process lives (package versions, processor, GPU name): looked up once."""
    import torch

    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "vleval": _version("vleval"),
        "torch": str(torch.__version__),  # a str subclass of torch: unpickling it would import torch
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
    }


def fingerprint_or_error() -> dict[str, Any]:
    """This machine's CPU fingerprint, or ``{"error": ...}`` naming what prevented it (e.g. torch broken): for the
    record of a cell that failed before its model said which device it uses."""
    try:
        return fingerprint()
    except Exception as exc:  # the record still says why it has no fingerprint
        return {"error": str(exc)}
