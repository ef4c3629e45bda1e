"""A fast encoder: the sentence-transformers model exported once to ONNX, for questions and documents.

One short question through PyTorch costs about 20 ms on two cores, mostly framework
overhead; the same model in onnxruntime gives identical vectors (to 1e-6) in about a
third of the time. Only plain mean-pooling models are exported; others keep PyTorch.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bumped when the exported graph changes, so old cached files are not reused.
_EXPORT_VERSION = 1


def default_cache_dir() -> Path:
    """Where exported encoders are kept: ``$XDG_CACHE_HOME/qa`` or ``~/.cache/qa``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


def exportable(model: Any) -> bool:
    """Whether ``model`` is Transformer -> mean Pooling (-> Normalize), the shape we export."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    config = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
    return config.get("pooling_mode") == "mean" or bool(getattr(modules[1], "pooling_mode_mean_tokens", False))


class OnnxEncoder:
    """Embeds short texts with onnxruntime; vectors are mean-pooled and normalised."""

    def __init__(self, path: Path, tokenizer: Any, max_tokens: int) -> None:
        """Open the exported graph at ``path``."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: with several answers at once on a few
        # cores, spinning threads burn the time the other answers need (benchmarks/load.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for ``texts`` as a float32 array."""
        features = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=self._max_tokens, return_tensors="np"
        )
        inputs = {
            "input_ids": features["input_ids"].astype(np.int64),
            "attention_mask": features["attention_mask"].astype(np.int64),
        }
        vectors = self._session.run(None, inputs)[0]
        return np.ascontiguousarray(vectors, dtype=np.float32)


def cached_path(model_id: str, cache_dir: Path) -> Path:
    """The file an export of ``model_id`` is cached in, keyed by model and library versions."""
    import onnxruntime
    import torch

    key = f"{model_id}|{torch.__version__}|{onnxruntime.__version__}|{_EXPORT_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id.rsplit("/", 1)[-1])
    return cache_dir / f"{safe}-{digest}.onnx"


def export(model: Any, target: Path) -> None:
    """Export ``model``'s transformer with mean pooling and normalisation to ``target`` atomically."""
    import torch

    # Export a copy: tracing may alter the module it runs, and the original keeps serving.
    transformer = copy.deepcopy(model[0].auto_model).eval()

    class _Pooled(torch.nn.Module):
        """Transformer + attention-masked mean pooling + L2 normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    # Two texts of different lengths, so that padding and masks are traced as dynamic.
    sample = model.tokenizer(
        ["a short text", "a somewhat longer second text for padding"], return_tensors="pt", padding=True
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # The exporter warns about every data-dependent branch it traces; the graph is checked by tests.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(),
            (sample["input_ids"], sample["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)


def load_or_export(model: Any, model_id: str, max_tokens: int, cache_dir: Path | None = None) -> OnnxEncoder | None:
    """The ONNX encoder for ``model``, exporting it on first use; ``None`` if that is not possible."""
    if not exportable(model):
        return None
    try:
        path = cached_path(model_id, cache_dir or default_cache_dir())
        if not path.is_file():
            log.info("exporting %s to %s for fast encoding (once)", model_id, path)
            export(model, path)
        return OnnxEncoder(path, model.tokenizer, max_tokens)
    except Exception as exc:
        log.warning("fast ONNX encoder unavailable (%s); using PyTorch", exc)
        return None
