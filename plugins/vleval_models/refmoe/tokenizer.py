"""A tiny deterministic word-level tokenizer built from a corpus vocabulary, stored as JSON beside the weights."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, UNK = "[PAD]", "[UNK]"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words of ``text`` (punctuation and spaces are separators)."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Maps words to ids: ``0`` is padding, ``1`` is unknown, then the vocabulary in sorted order."""

    def __init__(self, vocab: Sequence[str], max_len: int = 32):
        self.vocab = list(vocab)
        if self.vocab[:2] != [PAD, UNK]:
            raise ValueError("vocabulary must start with [PAD], [UNK]")
        self.max_len = max_len
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.unk_id = 0, 1

    @classmethod
    def build(cls, texts: Iterable[str], extra_words: Iterable[str] = (), max_len: int = 32) -> WordTokenizer:
        """Vocabulary = sorted set of the words of ``texts`` and ``extra_words`` (deterministic)."""
        found = {w for t in texts for w in words(t)} | {w for e in extra_words for w in words(e)}
        return cls([PAD, UNK, *sorted(found)], max_len=max_len)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text`` (unknown words → ``[UNK]``), truncated to ``max_len``; at least one id."""
        ids = [self.index.get(w, self.unk_id) for w in words(text)][: self.max_len]
        return ids or [self.unk_id]

    def batch(self, texts: Sequence[str]) -> tuple[list[list[int]], int]:
        """Encoded texts and the padded length of the batch."""
        encoded = [self.encode(t) for t in texts]
        return encoded, max((len(e) for e in encoded), default=1)

    def to_json(self) -> dict:
        return {"type": "word", "max_len": self.max_len, "pad": PAD, "unk": UNK, "vocab": self.vocab}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        data = json.loads(Path(path).read_text())
        if data.get("type") != "word":
            raise ValueError(f"{path}: not a word tokenizer file")
        return cls(data["vocab"], max_len=int(data["max_len"]))


BOS, EOS = "[BOS]", "[EOS]"
#: Option letters are tokens of their own, so that a generated answer reads back as the letter ("B"), not a word.
LETTERS = tuple("ABCDEFGH")
_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[.)]\s+(.*)$")


class CaptionTokenizer(WordTokenizer):
    """The decoder's vocabulary: ``[PAD] [UNK] [BOS] [EOS] [A]..[H]`` then words in sorted order.

    Prompts keep option letters at the start of a line (``"B. red"``) as letter tokens; everything else is words.
    """

    file_type = "caption-word"

    def __init__(self, vocab: Sequence[str], max_len: int = 64):
        super().__init__(vocab, max_len=max_len)
        missing = [t for t in (BOS, EOS, *(f"[{c}]" for c in LETTERS)) if t not in self.index]
        if missing:
            raise ValueError(f"caption vocabulary lacks the special tokens {missing}")
        self.bos_id, self.eos_id = self.index[BOS], self.index[EOS]
        self.letter_ids = {self.index[f"[{c}]"]: c for c in LETTERS}

    @classmethod
    def build(cls, texts: Iterable[str], extra_words: Iterable[str] = (), max_len: int = 64) -> CaptionTokenizer:
        found = {w for t in texts for w in words(t)} | {w for e in extra_words for w in words(e)}
        return cls([PAD, UNK, BOS, EOS, *(f"[{c}]" for c in LETTERS), *sorted(found)], max_len=max_len)

    def encode_prompt(self, text: str) -> list[int]:
        """Prompt ids followed by ``[BOS]``; the last ``max_len - 1`` ids are kept when the prompt is longer."""
        ids: list[int] = []
        for line in text.splitlines():
            option = _OPTION_LINE.match(line)
            if option:
                ids.append(self.index[f"[{option.group(1)}]"])
                line = option.group(2)
            ids += [self.index.get(w, self.unk_id) for w in words(line)]
        return [*ids[-(self.max_len - 1):], self.bos_id]

    def encode_target(self, text: str) -> list[int]:
        """A caption (words) or an answer letter (``"B"``), then ``[EOS]``."""
        stripped = text.strip()
        if stripped in LETTERS:
            return [self.index[f"[{stripped}]"], self.eos_id]
        return [*(self.index.get(w, self.unk_id) for w in words(text)), self.eos_id]

    def decode(self, ids: Sequence[int]) -> str:
        """Generated ids → text: words joined by spaces, letter tokens as capital letters; stops at ``[EOS]``."""
        out: list[str] = []
        for i in ids:
            if i == self.eos_id:
                break
            if i in self.letter_ids:
                out.append(self.letter_ids[i])
            elif i not in (self.pad_id, self.bos_id):
                out.append(self.vocab[i])
        return " ".join(out)

    def to_json(self) -> dict:
        return {**super().to_json(), "type": self.file_type}

    @classmethod
    def load(cls, path: str | Path) -> CaptionTokenizer:
        data = json.loads(Path(path).read_text())
        if data.get("type") != cls.file_type:
            raise ValueError(f"{path}: not a RefMoE-Cap tokenizer file (type {data.get('type')!r}, expected "
                             f"{cls.file_type!r})")
        return cls(data["vocab"], max_len=int(data["max_len"]))
