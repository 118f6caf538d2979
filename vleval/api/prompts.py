"""Prompts and answer extraction shared by every model that answers by generating text.

A generating model plugin builds its prompts with :func:`mc_prompt` / :data:`CAPTION_PROMPT` and reads letters back
with :func:`extract_choice`, so every model is prompted and scored the same way.
"""

from __future__ import annotations

import re

from vleval.api.items import MCItem

MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
CAPTION_PROMPT = "Describe the image in one sentence."


def mc_prompt(item: MCItem) -> str:
    """MMBench-style prompt: hint, question, lettered options, instruction."""
    lines = [f"Hint: {item.hint}"] if item.hint else []
    lines.append(f"Question: {item.question}")
    lines += [f"{letter}. {text}" for letter, text in item.options.items()]
    lines.append(MC_INSTRUCTION)
    return "\n".join(lines)


def extract_choice(answer: str, options: dict[str, str]) -> str | None:
    """The option letter a free-form answer names, or ``None`` when it is ambiguous.

    In order: a leading letter (``"B"``, ``"(B)"``, ``"B. red"``); else the only option letter standing alone
    (an English article "A" before a lowercase word does not count); else the only option whose text appears.
    """
    text = answer.strip()
    letters = "".join(re.escape(k) for k in options if k)
    if not letters:
        return None
    leading = re.match(rf"^\(?([{letters}])(?:\)|[.:,]|\s*$)", text)
    if leading:
        return leading.group(1)
    standalone = {m.group(1) for m in re.finditer(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text)
                  if not (m.group(1) == "A" and re.match(r" [a-z]", text[m.end():m.end() + 2]))}
    if len(standalone) == 1:
        return standalone.pop()
    lowered = text.lower()
    named = [k for k, option in options.items()
             if option and re.search(rf"(?<!\w){re.escape(option.strip().lower())}(?!\w)", lowered)]
    return named[0] if len(named) == 1 else None
