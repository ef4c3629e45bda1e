"""The embedding model without PyTorch: an ONNX export read with onnxruntime and ``tokenizers``.

Importing sentence-transformers (and so PyTorch) took about 6 of the 7 seconds of a fresh
``qa ask`` (benchmarks/cold_start.py). Once a model has been exported (the first time it
is loaded, by :class:`~qa.embed.embedder.SentenceTransformerEmbedder`), every later
process embeds questions and documents through this module, with the same vectors.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .onnx import Export, OnnxEncoder, exclusive, export_for, quantize, read_facts, read_tokenizer
from .windows import Span, token_windows

log = logging.getLogger(__name__)


def _cores() -> int:
    """Cores this process may run on (``OMP_NUM_THREADS`` where set: a Ray worker's share)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        return max(1, min(int(limit), cores))
    return max(1, cores)


class OnnxEmbedder:
    """An :class:`~qa.embed.embedder.Embedder` over a complete export; never imports PyTorch."""

    def __init__(self, files: Export, *, threads: int = 0, name: str = "") -> None:
        """Open the export ``files`` (raises ``OSError``/``ValueError`` when it cannot be read).

        ``name``: the model's canonical name (the export's facts record whichever spelling
        exported it first: a name or the folder it resolves to).
        """
        facts = read_facts(files)
        self._files = files
        self._name = name or str(facts["name"])
        self._dimension = int(facts["dimension"])
        self._max_tokens = int(facts["max_tokens"])
        self._counting, self._batching = read_tokenizer(
            files.tokenizer, self._max_tokens, int(facts["pad_id"]), str(facts["pad_token"])
        )
        self._threads = threads
        #: Single-threaded int8 runs side by side: one per core this process may use.
        self._workers = threads or _cores()
        self._fp32 = OnnxEncoder(files.graph, self._batching, threads)
        self._single_threaded: dict[str, OnnxEncoder] = {}
        self._lock = threading.Lock()

    @property
    def int8_ready(self) -> bool:
        """Whether documents can be embedded through the int8 twin: it is there or can be made now."""
        try:
            self._single("int8")
        except ModelError as exc:
            log.warning("%s", exc)
            return False
        return True

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
        return len(self._counting.encode(text, add_special_tokens=False).ids)

    def windows(self, text: str, budget: int, overlap: int) -> list[Span]:
        """Split ``text`` into overlapping spans of at most ``budget`` tokens each."""
        offsets = self._counting.encode(text, add_special_tokens=False).offsets
        return token_windows(offsets, len(text), budget, overlap)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` as unit vectors (fp32 graph), batches of similar length together."""
        return self._batched(self._fp32, texts, batch_size, progress)

    def encode_int8(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents through the int8 graph (made from the fp32 one on first use).

        One text per run whatever ``batch_size``: the int8 graph quantises its activations
        with one range per run, so a text's vector would depend on its batch-mates (and
        their padding); alone, it is the same wherever and with whatever it is embedded.
        Runs are single-threaded, one per core side by side (onnxruntime releases the GIL):
        1.2-1.4x faster than two threads on one short run (benchmarks/levers.py).
        """
        return self._side_by_side(self._single("int8"), texts)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed documents through the fp32 graph as :meth:`encode_int8` runs (the vectors :meth:`encode` gives)."""
        return self._side_by_side(self._single("fp32"), texts)

    def _side_by_side(self, encoder: OnnxEncoder, texts: Sequence[str]) -> np.ndarray:
        """One text per single-threaded run, as many runs at once as there are cores."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        # Longest first, so that no core is left with a long text at the end.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with ThreadPoolExecutor(self._workers) as pool:
            vectors = pool.map(lambda i: encoder.encode([texts[i]]), order)
            for i, vector in zip(order, vectors, strict=True):
                out[i] = vector[0]
        return out

    def _single(self, precision: str) -> OnnxEncoder:
        """A single-threaded encoder of the fp32 or int8 graph (int8 quantised once per machine), kept."""
        with self._lock:
            if precision not in self._single_threaded:
                if precision == "int8":
                    self._single_threaded[precision] = self._int8_encoder()
                else:
                    self._single_threaded[precision] = OnnxEncoder(self._files.graph, self._batching, 1)
            return self._single_threaded[precision]

    def _int8_encoder(self) -> OnnxEncoder:
        """The int8 twin, quantised once per machine (again if damaged), under the export's lock.

        Raises:
            ModelError: It cannot be made or read here (a read-only cache, no space).

        """
        graph = self._files.int8
        try:
            if graph.is_file():
                try:
                    return OnnxEncoder(graph, self._batching, 1)
                except Exception as exc:
                    log.warning("int8 graph %s unusable (%s); quantising again", graph, exc)
            with exclusive(self._files):
                # Another process may have made it while this one waited for the lock.
                try:
                    return OnnxEncoder(graph, self._batching, 1)
                except Exception:
                    quantize(self._files.graph, graph)
            return OnnxEncoder(graph, self._batching, 1)
        except Exception as exc:
            raise ModelError(
                f"cannot make the int8 twin of {self._name} in {graph.parent} ({exc}); "
                "index with --no-int8 (Settings(int8=False)) to embed documents in fp32"
            ) from exc

    def _batched(self, encoder: OnnxEncoder, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        """Embed in batches of similar length (less padding), in the order given."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts = range(0, len(order), max(1, batch_size))
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, unit="batch", desc="Embedding")
        for start in starts:
            rows = order[start : start + batch_size]
            out[rows] = encoder.encode([texts[i] for i in rows])
        return out


def exported(model_id: str, cache_dir: Path | None = None, *, name: str = "") -> OnnxEmbedder | None:
    """The torch-free embedder for ``model_id`` if its export is cached and readable, else ``None``."""
    try:
        files = export_for(model_id, cache_dir)
        if not files.complete:
            return None
    except OSError:
        return None
    try:
        return OnnxEmbedder(files, name=name)
    except Exception as exc:
        # A damaged or foreign cache entry: the caller loads PyTorch and exports again.
        log.warning("cached ONNX export %s unusable (%s); loading the model again", files.graph, exc)
        return None
