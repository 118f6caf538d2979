"""docs/plugin-reference.md covers the whole public plugin surface, and its code blocks are valid Python."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import TESTS

import vleval.api
import vleval.testing
from vleval.api import hookspecs
from vleval.registry import discovery as plugins

REFERENCE = (TESTS.parent / "docs" / "plugin-reference.md").read_text()
GUIDE = (TESTS.parent / "docs" / "writing-a-plugin.md").read_text()
HEADINGS = re.findall(r"^#+ (.+)$", REFERENCE, flags=re.M)


@pytest.mark.parametrize("name", vleval.api.__all__)
def test_every_public_api_name_is_documented(name):
    assert f"`{name}" in REFERENCE or re.search(rf"\b{re.escape(name)}\b", REFERENCE), name


HOOKS = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec"))
INTERFACES = ["Model", "Dataset", "Shift", "Metric", "TextLM"]  # what plugins implement; each has a section


def public_members(cls: type) -> list[str]:
    """What a plugin sees of ``cls``: its own public attributes, methods and annotated fields, and the special
    methods written in its body (``Dataset.__len__``), not those it inherits or ``typing.Protocol`` adds."""
    names = {name for name in [*vars(cls), *vars(cls).get("__annotations__", {})] if not name.startswith("_")}
    special = {name for name, value in vars(cls).items() if name.startswith("__") and callable(value)
               and getattr(value, "__qualname__", "").startswith(f"{cls.__qualname__}.")}
    return sorted(names | special)


def section(heading: str) -> str:
    return REFERENCE.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_hook_has_a_section():
    assert HOOKS, "no hook specification found in vleval.api.hookspecs"
    for hook in HOOKS:
        assert f"{hook}(register)" in HEADINGS, hook


@pytest.mark.parametrize("cls", INTERFACES)
def test_every_interface_member_is_documented(cls):
    members = public_members(getattr(vleval.api, cls))
    assert members, cls
    text = section(cls)
    undocumented = [m for m in members if f"`{m}" not in text and f"### {m}" not in text]
    assert not undocumented, f"docs/plugin-reference.md, section {cls}: {undocumented} not documented"


def test_member_lists_are_read_from_the_classes():
    """A member added to an interface is found (so it must be documented), and inherited machinery is not."""

    class Extended(vleval.api.Metric):
        extra: int = 0

        def new_method(self) -> None: ...

        def __len__(self) -> int:
            return 0

    added = set(public_members(Extended))
    assert added == {"extra", "new_method", "__len__"}
    assert "__subclasshook__" not in public_members(vleval.api.TextLM)


def test_environment_variables_and_kit_are_documented():
    variables = [value for name, value in vars(plugins).items() if name.endswith("_ENV")]
    assert variables
    for var in variables:
        assert f"`{var}=" in REFERENCE and var in GUIDE, var
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
