"""docs/plugin-reference.md covers the whole public plugin surface, and its code blocks are valid Python."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import TESTS

import vleval.api
from vleval.api import hookspecs
from vleval.registry import discovery as plugins

REFERENCE = (TESTS.parent / "docs" / "plugin-reference.md").read_text()
GUIDE = (TESTS.parent / "docs" / "writing-a-plugin.md").read_text()
HEADINGS = re.findall(r"^#+ (.+)$", REFERENCE, flags=re.M)


@pytest.mark.parametrize("name", vleval.api.__all__)
def test_every_public_api_name_is_documented(name):
    assert f"`{name}" in REFERENCE or re.search(rf"\b{re.escape(name)}\b", REFERENCE), name


def test_every_hook_has_a_section():
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("register_"))
    assert len(hooks) == 4
    for hook in hooks:
        assert f"{hook}(register)" in HEADINGS, hook


@pytest.mark.parametrize("cls", ["Model", "Dataset", "Shift", "Metric", "TextLM"])
def test_every_interface_member_is_documented(cls):
    members = {"Model": ["capabilities", "device", "info", "embed_images", "embed_texts", "score_options", "generate",
                         "record_routing", "trace_routing", "scale_experts"],
               "Dataset": ["task", "id", "__len__", "__getitem__", "content_hash", "describe"],
               "Shift": ["source", "target", "calibration"],
               "Metric": ["task", "primary", "higher_is_better", "compute"],
               "TextLM": ["max_length", "loglikelihood", "loglikelihood_rolling", "generate_until"]}[cls]
    interface = getattr(vleval.api, cls)
    assert all(hasattr(interface, m) or m in getattr(interface, "__annotations__", {}) for m in members), cls
    section = REFERENCE.split(f"\n## {cls}\n", 1)[1].split("\n## ", 1)[0]
    for member in members:
        assert f"`{member}" in section or f"### {member}" in section, (cls, member)


def test_environment_variables_and_kit_are_documented():
    for var in (plugins.LOAD_ENV, plugins.BLOCK_ENV, plugins.TRACE_ENV):
        assert f"`{var}=" in REFERENCE and var in GUIDE
    import vleval.testing

    for name in vleval.testing.__all__:
        assert name in REFERENCE, name


def test_python_blocks_parse_and_guide_links_the_reference():
    blocks = re.findall(r"^```python\n(.*?)^```$", REFERENCE, flags=re.S | re.M)
    assert len(blocks) >= 8
    for block in blocks:
        ast.parse(block)
    assert "(plugin-reference.md)" in GUIDE
    anchors = {"-".join(re.sub(r"[^\w\- ]", "", h.lower()).split(" ")) for h in HEADINGS}
    for anchor in re.findall(r"\]\(#([^)]+)\)", REFERENCE):
        assert anchor in anchors, anchor
