"""The torch and transformers releases this version of vleval was tested with.

``LOCKED`` is the version in ``constraints.txt`` (the exact set the README commands and CI install; a test keeps the
two in step) and ``OLDEST`` the declared lower bound, tested by ``tools/check_versions.sh oldest``. ``vleval run``
warns once when the installed release is neither, since results may then differ for reasons vleval cannot see.
Reads package metadata only: importing this module loads neither torch nor transformers.
"""

from __future__ import annotations

import importlib.metadata as md

LOCKED = {"torch": "2.13.0", "transformers": "5.25.0"}
OLDEST = {"torch": "2.13.0", "transformers": "5.21.0"}


def _installed(dist: str) -> str | None:
    try:
        return md.version(dist).split("+", 1)[0]  # torch's local label (+cpu, +cu128) does not change the release
    except md.PackageNotFoundError:
        return None


def untested(installed: dict[str, str | None] | None = None) -> list[str]:
    """``"transformers 5.25.0 (tested: 5.21.0, 5.24.0)"`` for each installed release outside the tested set.

    ``installed`` maps distribution names to versions (default: what is installed in this environment).
    """
    out = []
    for dist, locked in LOCKED.items():
        version = installed.get(dist) if installed is not None else _installed(dist)
        version = version.split("+", 1)[0] if version else None
        tested = sorted({OLDEST[dist], locked})
        if version is not None and version not in tested:
            out.append(f"{dist} {version} (tested: {', '.join(tested)})")
    return out


def warning() -> str | None:
    """The one-line warning ``vleval run`` prints, or ``None`` when everything installed was tested."""
    found = untested()
    if not found:
        return None
    return (
        f"warning: untested release(s): {'; '.join(found)}; records carry the versions used. "
        "For the tested set: pip install -c constraints.txt -e '.[dev]'"
    )
