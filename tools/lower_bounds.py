"""Print ``name==version`` constraints pinning every dependency of pyproject.toml to its declared lower bound.

Used by ``tools/check_versions.sh oldest`` to prove that the lower bounds the project declares are tested ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def lower_bounds(pyproject: Path, extras: tuple[str, ...] = ("dev", "ray")) -> list[str]:
    data = tomllib.loads(pyproject.read_text())["project"]
    specs = list(data["dependencies"])
    for extra in extras:
        specs += data.get("optional-dependencies", {}).get(extra, [])
    pins = []
    for text in specs:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        lows = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if not lows:
            raise SystemExit(f"{pyproject}: dependency {text!r} declares no lower bound")
        pins.append(f"{req.name}=={lows[0]}")
    return pins


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    print("\n".join(lower_bounds(root / "pyproject.toml", tuple(sys.argv[1:]) or ("dev", "ray"))))
