"""BM25 keyword search over passages; the only module that imports bm25s."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .errors import CorpusError, IndexCorruptError

# bm25s logs a line for every save and load; the index reports what matters itself.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STOPWORDS = "en"
_LANGUAGE = "english"


class LexicalIndex:
    """Okapi BM25 over stemmed, stop-word-filtered tokens, one document per passage."""

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        """Wrap a fitted bm25s model over ``size`` documents."""
        self._model = model
        self._size = size
        self._stemmer = Stemmer.Stemmer(_LANGUAGE)

    def __len__(self) -> int:
        """Number of indexed documents."""
        return self._size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index ``texts``; document ``i`` is passage ``i``."""
        stemmer = Stemmer.Stemmer(_LANGUAGE)
        tokens = bm25s.tokenize(list(texts), stopwords=_STOPWORDS, stemmer=stemmer, show_progress=False)
        if not any(word for word in tokens.vocab):
            raise CorpusError("the articles hold no searchable words (only stop words or symbols)")
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    def tokens(self, text: str) -> list[str]:
        """The stemmed query terms of ``text``."""
        result = bm25s.tokenize(
            [text], stopwords=_STOPWORDS, stemmer=self._stemmer, show_progress=False, return_ids=False
        )
        return list(result[0]) if result else []

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no term matches)."""
        terms = self.tokens(query)
        if not terms or self._size == 0:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._model.get_scores(terms), dtype=np.float32)

    def save(self, folder: Path) -> None:
        """Write the index as JSON and NumPy files (no pickle) into ``folder``."""
        self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        """Read an index written by :meth:`save` that must hold ``size`` documents.

        Raises:
            IndexCorruptError: The files are missing, unreadable or of another size.

        """
        try:
            model = bm25s.BM25.load(str(folder), show_progress=False, allow_pickle=False)
        except Exception as exc:
            raise IndexCorruptError(f"cannot read keyword index {folder}: {exc}") from exc
        stored = int(model.scores["num_docs"])
        if stored != size:
            raise IndexCorruptError(f"keyword index holds {stored} passages, the manifest {size}")
        return cls(model, size)
