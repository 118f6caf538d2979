"""Answer extraction for multiple choice: VLMEvalKit's exact matching, quirks included, and a strict mode.

``vlmevalkit`` reproduces VLMEvalKit's ``can_infer`` (``vlmeval/utils/matching_util.py``) as its MMBench evaluation
uses it with ``judge = exact_matching`` (``vlmeval/dataset/utils/multiple_choice.py``; no LLM judge), row by row:

1. An answer containing ``Failed to obtain answer via API`` skips the letter rules (the text rule still runs); one
   containing a fixed refusal ("Sorry, I can't help with images of people yet.", "I can't process this file.",
   "I'm sorry, but without the image provided", "Cannot determine the answer") is ``'Z'`` (counted wrong).
2. Letter rule: replace each of ``.()[],:;!*#{}`` with a space and split on whitespace. If exactly one option
   letter occurs as a token (case-sensitive, so "a" is not "A", and an English article "A" counts as option A),
   it is the answer only if its first occurrence is among the last 4 tokens; if no option letter occurs but a
   ``Z`` token does, the answer is ``'Z'``.
3. ``(?i)(?:correct\\s+)?answer\\s+is\\s+\\**([ABCD])\\**`` anywhere in the raw answer, if that letter is an option.
4. Text rule: if the answer is at most twice as long as all option texts together, the option whose lower-cased
   text is a *substring* of the lower-cased answer, when exactly one is.
5. Otherwise nothing is extracted; VLMEvalKit then records ``'Z'`` (wrong). vleval counts these as extraction
   failures, reported per cell, and never guesses.

Only options with a non-empty text are valid letters (VLMEvalKit drops NaN options when it builds the choices).

``strict`` fixes the quirks: a hedge between two letters ("A or B") is no answer; a leading letter ("B", "(B)",
"B. because ...") counts however long the answer goes on; otherwise the only option letter standing alone anywhere,
an article "A" ("A dog") excepted; "answer is X" for any valid option letter; option texts must match as whole
words; refusals are extraction failures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("vlmevalkit", "strict")
API_FAILURE = "Failed to obtain answer via API"
REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_PUNCTUATION = ".()[],:;!*#{}"
_VERBOSE_ANSWER = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")


@dataclass(frozen=True)
class Extraction:
    """The option a free-form answer names: ``letter`` is an option letter, ``'Z'`` (an answer that counts as
    wrong: a refusal, or a "Z" the model wrote) or ``None`` (nothing could be extracted); ``rule`` says which rule
    decided (``letter``, ``answer-is``, ``text``, ``refusal``, ``z``, ``none``)."""

    letter: str | None
    rule: str

    @property
    def failed(self) -> bool:
        return self.letter is None


def valid_options(options: dict[str, str]) -> dict[str, str]:
    """The options that count as choices: a non-empty text (VLMEvalKit drops NaN options)."""
    return {k: v for k, v in options.items() if v is not None and str(v) != ""}


def extract(answer: str, options: dict[str, str], mode: str = "vlmevalkit") -> Extraction:
    """The option ``answer`` names under ``mode`` (``"vlmevalkit"`` or ``"strict"``)."""
    if mode == "vlmevalkit":
        return extract_vlmevalkit(answer, options)
    if mode == "strict":
        return extract_strict(answer, options)
    raise ValueError(f"unknown extraction mode {mode!r}; expected one of {', '.join(MODES)}")


def extract_vlmevalkit(answer: str, options: dict[str, str]) -> Extraction:
    """VLMEvalKit's ``can_infer`` in exact-matching mode (see the module docstring for the rules)."""
    answer = str(answer)
    choices = valid_options(options)
    if API_FAILURE not in answer:
        found = _vlmevalkit_letter(answer, choices)
        if found is not None:
            return found
    return _vlmevalkit_text(answer, choices)


def _vlmevalkit_letter(answer: str, choices: dict[str, str]) -> Extraction | None:
    if any(refusal in answer for refusal in REFUSALS):
        return Extraction("Z", "refusal")
    spaced = answer
    for char in _PUNCTUATION:
        spaced = spaced.replace(char, " ")
    tokens = spaced.split()
    present = [letter for letter in choices if letter in tokens]
    if len(present) == 1:
        if tokens.index(present[0]) > len(tokens) - 5:
            return Extraction(present[0], "letter")
    elif not present and "Z" in tokens:
        return Extraction("Z", "z")
    match = _VERBOSE_ANSWER.search(answer)
    if match and match.group(1).upper() in choices:
        return Extraction(match.group(1).upper(), "answer-is")
    return None


def _vlmevalkit_text(answer: str, choices: dict[str, str]) -> Extraction:
    lowered = answer.lower()
    if len(lowered) > 2 * sum(len(str(v)) for v in choices.values()):
        return Extraction(None, "none")
    found = [letter for letter, text in choices.items() if str(text).lower() in lowered]
    return Extraction(found[0], "text") if len(found) == 1 else Extraction(None, "none")


def extract_strict(answer: str, options: dict[str, str]) -> Extraction:
    """The documented strict rules (module docstring): no position window, no articles, whole-word texts."""
    text = str(answer).strip()
    choices = valid_options(options)
    if not choices or API_FAILURE in text:
        return Extraction(None, "none")
    if any(refusal in text for refusal in REFUSALS):
        return Extraction(None, "refusal")
    letters = "".join(re.escape(k) for k in choices)
    hedge = re.search(rf"(?<![A-Za-z])\(?([{letters}])\)?\s*(?:or|/)\s*\(?([{letters}])(?![A-Za-z])", text)
    if hedge and hedge.group(1) != hedge.group(2):  # "A or B", "(A)/(C)": two answers are none
        return Extraction(None, "none")
    leading = re.match(rf"^[\s*#]*\(?([{letters}])(?:\)|[.:,]|\s|\*|$)", text)
    if leading and not _is_article(text, leading.start(1)):
        return Extraction(leading.group(1), "letter")
    stated = re.search(rf"(?i:(?:correct\s+)?answer\s+is)\s*[:\s]\s*\**\(?([{letters}])\)?\**(?![A-Za-z])", text)
    if stated:
        return Extraction(stated.group(1), "answer-is")
    standalone = {
        m.group(1) for m in re.finditer(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text)
        if not _is_article(text, m.start(1))
    }
    if len(standalone) == 1:
        return Extraction(standalone.pop(), "letter")
    lowered = text.lower()
    named = [
        k for k, option in choices.items()
        if re.search(rf"(?<!\w){re.escape(str(option).strip().lower())}(?!\w)", lowered)
    ]
    return Extraction(named[0], "text") if len(named) == 1 else Extraction(None, "none")


_NOT_NOUNS = {"or", "and", "nor", "is", "was", "seems", "should", "would", "could", "then", "because", "since"}


def _is_article(text: str, position: int) -> bool:
    """Whether the "A" at ``position`` reads as the English article: followed by a space and a lower-case word
    that is not a conjunction or verb ("A or B", "A is right" name option A)."""
    if text[position] != "A":
        return False
    word = re.match(r" ([a-z]+)", text[position + 1:])
    return word is not None and word.group(1) not in _NOT_NOUNS
