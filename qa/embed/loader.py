"""Which embedder a process gets: the torch-free ONNX one when the model's export is cached.

On a machine with an NVIDIA GPU, the commands (``qa.update.load_embedder``) embed on it
through PyTorch instead: fp32 document vectors in larger batches, questions too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import canonical_model_name
from .embedder import Embedder, SentenceTransformerEmbedder, resolve_model_path
from .fast import exported

log = logging.getLogger(__name__)

#: Where the NVIDIA driver says it is loaded (checked without importing PyTorch).
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


def gpu_present() -> bool:
    """Whether an NVIDIA GPU driver is loaded on this machine."""
    return NVIDIA_DRIVER.exists()


def load_embedder(model: str, *, cache_dir: Path | None = None, gpu: bool = False) -> Embedder:
    """The embedding model ``model`` (a name or a local folder), loaded now.

    The first load on a machine goes through sentence-transformers (PyTorch) and exports
    the model to ONNX; every later one reads that export with onnxruntime and
    ``tokenizers`` alone, with the same vectors and token counts. A model that cannot be
    exported (not mean-pooled) stays on PyTorch. ``gpu``: for a build, which embeds on a
    GPU where there is one.

    Raises:
        ModelError: The model cannot be loaded (not installed, offline, corrupt).

    """
    if gpu and gpu_present():
        # A build with a GPU at hand: PyTorch on it (an int8 index still embeds through the CPU twin).
        on_gpu = SentenceTransformerEmbedder(model, cache_dir=cache_dir)
        if on_gpu.device != "cpu":
            return on_gpu
        log.info("an NVIDIA driver is loaded but PyTorch sees no GPU; embedding on the CPU")
    path = resolve_model_path(model)
    name = canonical_model_name(model)
    fast = exported(path, cache_dir, name=name)
    if fast is not None:
        return fast
    slow = SentenceTransformerEmbedder(model, cache_dir=cache_dir)
    # Export now, then embed through the export like any later process would.
    if slow.export():
        return exported(path, cache_dir, name=name) or slow
    return slow
