"""A deterministic embedder for unit tests: hashed bag of words, no model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from qa.embed.embedder import token_windows

_TOKEN = re.compile(r"\w+")


class FakeEmbedder:
    """Hashes each lower-cased word into one of ``dimension`` signed buckets."""

    def __init__(self, dimension: int = 256, max_tokens: int = 40, name: str = "fake-embedder") -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._name = name
        self.encoded = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def _offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN.finditer(text)]

    def count_tokens(self, text: str) -> int:
        return len(self._offsets(text))

    def windows(self, text: str, budget: int, overlap: int) -> list[tuple[int, int]]:
        return token_windows(self._offsets(text), len(text), budget, overlap)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(text.lower()):
                digest = hashlib.md5(word.encode()).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[row, bucket] += 1.0 if digest[4] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out
