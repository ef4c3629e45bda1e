"""An embedding model that is loaded only when something must be embedded or measured in tokens.

An update with nothing to do compares the model's name with the one the index records;
loading sentence-transformers and PyTorch for that took about 6 s of a 6.6 s no-op
`qa index` (benchmarks/cold_start.py). The name is the canonical model name; everything
else, the vector length included, loads the model (the writer takes the length from the
index when the names agree and nothing must be embedded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..config import canonical_model_name
from .embedder import Embedder, Lazy, Span, documents


class DeferredEmbedder:
    """An :class:`Embedder` whose model is loaded on first use of anything but its name."""

    def __init__(self, model: str, load: Callable[[str], Embedder]) -> None:
        """Load ``model`` with ``load`` when first needed."""
        self._get = Lazy(model, load)
        self._name = canonical_model_name(model)

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._get.loaded is not None

    @property
    def name(self) -> str:
        """The model name recorded in the manifest (as the loaded model gives it)."""
        loaded = self._get.loaded
        return loaded.name if loaded is not None else self._name

    @property
    def dimension(self) -> int:
        """Length of each vector (loads the model)."""
        return self._get().dimension

    @property
    def max_tokens(self) -> int:
        """Tokens per input (loads the model)."""
        return self._get().max_tokens

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes (loads the model)."""
        return self._get().count_tokens(text)

    def windows(self, text: str, budget: int, overlap: int) -> list[Span]:
        """Token windows of ``text`` (loads the model)."""
        return self._get().windows(text, budget, overlap)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` (loads the model)."""
        return self._get().encode(texts, batch_size=batch_size, progress=progress)

    @property
    def int8_ready(self) -> bool:
        """Whether the model can embed documents through an int8 twin (loads the model)."""
        return bool(getattr(self._get(), "int8_ready", False))

    def encode_int8(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents through the model's int8 twin where it has one (loads the model)."""
        return documents(self._get(), "encode_int8", texts, batch_size)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents in fp32 as the model does for a build (loads the model)."""
        return documents(self._get(), "encode_documents", texts, batch_size)
