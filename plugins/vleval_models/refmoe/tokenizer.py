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
