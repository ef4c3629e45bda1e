"""A fast encoder: the sentence-transformers model exported once to ONNX, read without PyTorch.

One short question through PyTorch costs about 20 ms on two cores, mostly framework
overhead; the same model in onnxruntime gives identical vectors (to 1e-6) in about a
third of the time. Only plain mean-pooling models are exported; others keep PyTorch.

An export is four files side by side in the cache folder, named after the model, its
weights and the library versions: the fp32 graph (``.onnx``), its int8 twin
(``.int8.onnx``, per-channel weights, made on first use), the tokenizer
(``.tokenizer.json``) and the model's facts (``.json``: name, vector length, token
window, padding token). With all of them present, :mod:`qa.embed.fast` embeds with
onnxruntime and ``tokenizers`` alone, never importing PyTorch (a fresh ``qa ask`` in
under a second instead of seven, benchmarks/cold_start.py).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

#: Bumped when the exported graph changes, so old cached files are not reused.
#: 2: attention exported in its plain ("eager") form, which onnxruntime fuses (1.3x faster
#: than the SDPA form on 2 cores, same vectors); tokenizer and facts kept beside the graph.
_EXPORT_VERSION = 2
#: Weight files whose size and time stamp name a local model's export.
_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.onnx")


def default_cache_dir() -> Path:
    """Where exported encoders are kept: ``$XDG_CACHE_HOME/qa`` or ``~/.cache/qa``.

    A process without a home directory (a container's arbitrary user) uses the system's
    temporary folder, one cache per user.
    """
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "qa"
    try:
        return Path.home() / ".cache" / "qa"
    except (RuntimeError, KeyError, OSError):
        return _private_temporary()


def _private_temporary() -> Path:
    """A cache folder of this user's own in the temporary folder (never one another user made)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"qa-cache-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        stat = folder.lstat()
        # Another user's folder, a link, or one others may write to: its files are not trusted.
        if folder.is_symlink() or stat.st_uid != uid or stat.st_mode & 0o022:
            raise PermissionError(f"{folder} is not this user's own")
        return folder
    except OSError:
        return Path(tempfile.mkdtemp(prefix="qa-cache-"))


def _tmp(target: Path) -> Path:
    """A temporary name beside ``target``, unique to this process and thread."""
    return target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextlib.contextmanager
def _removed_on_failure(tmp: Path) -> Iterator[None]:
    """Remove the temporary file ``tmp`` if the block fails (an export is about 90 MB)."""
    try:
        yield
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exclusive(files: Export) -> Iterator[None]:
    """Hold the export's lock file while making or mending it (one process and thread at a time).

    A cache folder that cannot hold a lock (read-only) is used without one: whatever must
    be written there then fails on its own, with its own message.
    """
    try:
        files.stem.parent.mkdir(parents=True, exist_ok=True)
        lock: Any = FileLock(str(files.stem) + ".lock")
        try:
            lock.acquire(timeout=1)
        except Timeout:
            log.warning("waiting for another process making the model's export in %s ...", files.stem.parent)
            lock.acquire()
    except (OSError, NotImplementedError):
        # NotImplementedError: a file system without locks (older filelock releases).
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def exportable(model: Any) -> bool:
    """Whether ``model`` is Transformer -> mean Pooling (-> Normalize), the shape we export."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    config = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
    return config.get("pooling_mode") == "mean" or bool(getattr(modules[1], "pooling_mode_mean_tokens", False))


def _version(package: str) -> str:
    """An installed package's version, read without importing it."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _weights_stamp(model_id: str) -> str:
    """Size and modification time of a local model folder's weights ("" for a hub name)."""
    folder = Path(model_id)
    if not folder.is_dir():
        return ""
    stamps = []
    for name in _WEIGHTS:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            stamps.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ",".join(stamps)


@dataclass(frozen=True)
class Export:
    """The cached files of one model's export (see the module docstring)."""

    stem: Path

    @property
    def graph(self) -> Path:
        """The fp32 graph."""
        return self.stem.with_name(self.stem.name + ".onnx")

    @property
    def int8(self) -> Path:
        """The int8 graph (per-channel dynamic quantisation of :attr:`graph`)."""
        return self.stem.with_name(self.stem.name + ".int8.onnx")

    @property
    def tokenizer(self) -> Path:
        """The tokenizer, as the ``tokenizers`` library saves it."""
        return self.stem.with_name(self.stem.name + ".tokenizer.json")

    @property
    def facts(self) -> Path:
        """The model's name, vector length, token window and padding token."""
        return self.stem.with_name(self.stem.name + ".json")

    @property
    def complete(self) -> bool:
        """Whether the graph, tokenizer and facts are all there."""
        return self.graph.is_file() and self.tokenizer.is_file() and self.facts.is_file()


def export_for(model_id: str, cache_dir: Path | None = None) -> Export:
    """Where ``model_id``'s export is cached, keyed by model, weights and library versions (no import)."""
    key = "|".join(
        (
            model_id,
            _weights_stamp(model_id),
            _version("torch"),
            _version("transformers"),
            _version("onnxruntime"),
            str(_EXPORT_VERSION),
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id.rsplit("/", 1)[-1])
    return Export((cache_dir or default_cache_dir()) / f"{safe}-{digest}")


def cached_path(model_id: str, cache_dir: Path) -> Path:
    """The fp32 graph an export of ``model_id`` is cached in."""
    return export_for(model_id, cache_dir).graph


def session(path: Path, threads: int = 0, *, spinning: bool = False) -> Any:
    """An onnxruntime CPU session on ``path`` (``threads`` 0: one per core).

    Without ``spinning``, idle threads sleep: with several answers at once on a few cores,
    spinning threads burn the time the other answers need (benchmarks/load.py). (A build's
    documents run single-threaded, side by side: spinning does not apply there.)
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_tokenizer(path: Path, max_tokens: int, pad_id: int, pad_token: str) -> tuple[Any, Any]:
    """Two tokenizers from ``path``: one that counts (no limits), one that batches (cut and padded)."""
    from tokenizers import Tokenizer

    counting = Tokenizer.from_file(str(path))
    counting.no_truncation()
    counting.no_padding()
    batching = Tokenizer.from_file(str(path))
    batching.enable_truncation(max_length=max_tokens)
    batching.enable_padding(pad_id=pad_id, pad_token=pad_token)
    return counting, batching


@functools.cache
def _shrinking() -> Any:
    """Run options that give the memory a run took back to the system when it ends (made once, shared).

    onnxruntime keeps what its CPU arena grew to; answers that run at once each grow it, and
    a burst of users would leave the server that much larger for good (benchmarks/burst.py).
    """
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


class OnnxEncoder:
    """Embeds texts with onnxruntime; vectors are mean-pooled and normalised."""

    def __init__(self, path: Path, tokenizer: Any, threads: int = 0, *, spinning: bool = False) -> None:
        """Open the graph at ``path``; ``tokenizer`` is a padding, truncating ``tokenizers.Tokenizer``."""
        self._session = session(path, threads, spinning=spinning)
        self._tokenizer = tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for ``texts`` as a float32 array."""
        encodings = self._tokenizer.encode_batch(list(texts))
        inputs = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        vectors = self._session.run(None, inputs, _shrinking())[0]
        return np.ascontiguousarray(vectors, dtype=np.float32)


def export(model: Any, target: Path, *, attention: str = "eager") -> None:
    """Export ``model``'s transformer with mean pooling and normalisation to ``target`` atomically.

    ``attention="sdpa"`` exports PyTorch's fused attention call instead (the graph before
    version 2, kept for benchmarks/levers.py).
    """
    import torch

    # Export a copy on the CPU: tracing may alter the module it runs, the original keeps
    # serving, and a model on a GPU is traced with CPU tensors.
    transformer = copy.deepcopy(model[0].auto_model).to("cpu").eval()
    # Plain attention (not PyTorch's fused SDPA call) traces to the pattern onnxruntime
    # fuses into its own attention kernel: 1.3x faster on 2 cores, the same vectors.
    setter = getattr(transformer, "set_attn_implementation", None)
    if setter is not None:
        setter(attention)
    else:
        transformer.config._attn_implementation = attention

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
    tmp = _tmp(target)
    # The exporter warns about every data-dependent branch it traces; the graph is checked by tests.
    with torch.inference_mode(), warnings.catch_warnings(), _removed_on_failure(tmp):
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


def quantize(source: Path, target: Path, *, per_channel: bool = True, reduce_range: bool = False) -> None:
    """Write an int8 twin of the graph ``source`` to ``target`` atomically (dynamic quantisation).

    Per-channel weights keep vectors at a mean cosine of 0.994 to fp32 (0.952 with one
    scale per tensor); see benchmarks/levers.py.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _tmp(target)
    root = logging.getLogger()
    # The quantiser logs advice to the root logger ("consider pre-processing"), not to its own.
    quiet = _DropAdvice()
    root.addFilter(quiet)
    try:
        # Given the graph itself (not its path), the quantiser works in a temporary folder of
        # its own instead of writing a side file with a fixed name beside the source.
        quantize_dynamic(
            onnx.load(str(source)),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
        )
        os.replace(tmp, target)
    finally:
        root.removeFilter(quiet)
        tmp.unlink(missing_ok=True)


class _DropAdvice(logging.Filter):
    """Drops the quantiser's advice to pre-process the graph (measured: it changes nothing here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but that advice."""
        return "pre-processing before quantization" not in record.getMessage()


def write_export(model: Any, files: Export, max_tokens: int, name: str, dimension: int, *, again: bool = False) -> None:
    """Export ``model`` into ``files``: graph, then tokenizer, then facts (their presence marks it complete).

    ``again``: replace a graph that is there (damaged); each file is replaced atomically,
    so another process never finds one missing.
    """
    if again or not files.graph.is_file():
        export(model, files.graph)
    backend = model.tokenizer.backend_tokenizer
    tmp = _tmp(files.tokenizer)
    with _removed_on_failure(tmp):
        backend.save(str(tmp))
        os.replace(tmp, files.tokenizer)
    facts = {
        "name": name,
        "dimension": dimension,
        "max_tokens": max_tokens,
        "pad_id": int(model.tokenizer.pad_token_id or 0),
        "pad_token": str(model.tokenizer.pad_token or "[PAD]"),
        "export_version": _EXPORT_VERSION,
    }
    tmp = _tmp(files.facts)
    with _removed_on_failure(tmp):
        tmp.write_text(json.dumps(facts, indent=1), encoding="utf-8")
        os.replace(tmp, files.facts)


def _dimension_of(model: Any) -> int:
    """A sentence-transformers model's vector length (either method name)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def read_facts(files: Export) -> dict[str, Any]:
    """The facts an export recorded (raises ``OSError``/``ValueError`` when unreadable)."""
    facts = json.loads(files.facts.read_text(encoding="utf-8"))
    if not isinstance(facts, dict) or facts.get("export_version") != _EXPORT_VERSION:
        raise ValueError(f"{files.facts} is not an export of version {_EXPORT_VERSION}")
    return facts


def load_or_export(
    model: Any, model_id: str, max_tokens: int, cache_dir: Path | None = None, *, name: str = "", dimension: int = 0
) -> OnnxEncoder | None:
    """The ONNX encoder for ``model``, exporting it on first use; ``None`` if that is not possible."""
    if not exportable(model):
        return None
    try:
        files = export_for(model_id, cache_dir)
    except OSError as exc:
        log.warning("fast ONNX encoder unavailable (%s); using PyTorch", exc)
        return None
    again = False
    for attempt in range(2):
        try:
            if again or not files.complete:
                with exclusive(files):
                    # Another process may have made it while this one waited for the lock.
                    if again or not files.complete:
                        log.info("exporting %s to %s for fast encoding (once)", model_id, files.graph)
                        facts = (name or model_id, dimension or _dimension_of(model))
                        write_export(model, files, max_tokens, *facts, again=again)
            facts_read = read_facts(files)
            _, batching = read_tokenizer(files.tokenizer, max_tokens, facts_read["pad_id"], facts_read["pad_token"])
            return OnnxEncoder(files.graph, batching)
        except Exception as exc:
            if attempt == 0 and files.complete and not again:
                # A damaged cached export (cut short, edited): made again once, in place.
                log.warning("cached ONNX export %s unusable (%s); exporting again", files.graph, exc)
                again = True
                continue
            log.warning("fast ONNX encoder unavailable (%s); using PyTorch", exc)
            return None
    return None
