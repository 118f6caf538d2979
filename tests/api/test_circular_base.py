"""MMBench's circular convention is defined once, in ``vleval.api``, and every user reads it from there."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import TESTS

import vleval.api
from vleval.api import CIRCULAR_BASE, MCItem, item_key

ROOT = TESTS.parent
DEFINED_IN = ROOT / "vleval" / "api" / "items.py"


def integer_millions(path: Path) -> list[int]:
    """Lines of ``path`` with the integer literal 1_000_000 (float ``1e6`` unit conversions do not count)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value == 1_000_000]


def test_the_constant_is_public_and_is_mmbench_s():
    assert "CIRCULAR_BASE" in vleval.api.__all__
    assert CIRCULAR_BASE == 1_000_000  # released MMBench TSVs: rotation r of question q has index q + r * 1e6


def test_no_other_module_of_the_core_or_the_plugins_writes_the_number_again():
    sources = [p for root in (ROOT / "vleval", ROOT / "plugins") for p in sorted(root.rglob("*.py"))
               if ".venv" not in p.parts and "tests" not in p.relative_to(ROOT).parts]
    assert DEFINED_IN in sources and len(sources) > 100
    found = {str(p.relative_to(ROOT)): lines for p in sources if (lines := integer_millions(p))}
    assert found == {"vleval/api/items.py": integer_millions(DEFINED_IN)} and len(found["vleval/api/items.py"]) == 1


def test_the_scan_finds_a_second_definition(tmp_path):
    copy = tmp_path / "x.py"
    copy.write_text("STRIDE = 1_000_000\nMS = 1e6\nOTHER = 1_000_001\n")
    assert integer_millions(copy) == [1]


def test_rotations_of_a_question_share_their_item_key():
    rotations = [MCItem(index=7 + r * 1_000_000, image=None, question="q", options={"A": "x", "B": "y"}, answer="A")
                 for r in range(4)]
    assert {item_key(item) for item in rotations} == {"7"}
    assert item_key(MCItem(8, None, "q", {"A": "x", "B": "y"}, "A")) == "8"
