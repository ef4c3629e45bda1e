"""Building an index on a Ray cluster; the only module that imports ray (the ``ray`` extra).

The driver (``qa index --ray``) decides what to (re)index exactly as a local build does and
commits every row to its own database. The cluster does the work in between:

- reading and splitting: the bytes of each new or changed file (read on the driver with the
  checks of indexing, so workers need no access to its disk) go to Ray Data tasks that run
  the same readers and the same splitting as a local build;
- embedding: the texts whose vectors are missing go, in the very batches a local build
  would embed, to ``map_batches`` with a pool of actors that load the model once each (one
  GPU per actor where the cluster has GPUs, one CPU otherwise). Each batch's vectors are
  committed as they arrive, so a job that fails resumes from the last committed batch.
"""

from __future__ import annotations

import functools
import logging
import pickle
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Settings
from ..embed.embedder import Embedder
from ..embed.loader import load_embedder
from ..errors import QAError
from ..ingest.sources import IndexedFile, Loaded, RawFile, Source, extract
from .backend import LocalBackend, Prepared, Work, embed_documents, needs_split
from .splitting import split_document

#: How to get the extra, for the error shown when Ray is missing.
INSTALL_HINT = 'pip install -e ".[ray]" (or pip install "qa-citations[ray]")'
#: Bytes of file contents shipped to the cluster in one read-and-split job.
BLOCK_BYTES = 32 * 1024 * 1024
#: Files shipped in one read-and-split job.
BLOCK_FILES = 512
#: Files read and split by one task.
FILES_PER_TASK = 8
#: Seconds to wait for a cluster address to accept a connection before calling it unreachable.
CONNECT_TIMEOUT = 5.0


class RayUnavailableError(QAError):
    """Ray is not installed, or the cluster cannot be reached."""


class RayJobError(QAError):
    """A Ray job of the build failed (a lost node, a task out of retries); what was committed is kept."""


def _job_failed(exc: Exception) -> RayJobError:
    """A one-line error for a failed Ray job."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return RayJobError(
        f"the Ray build failed ({type(exc).__name__}: {first}); "
        "the vectors committed so far are kept: run the same command again to resume"
    )


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a build runs on.

    Attributes:
        address: The address given (``None``: a local instance started for the build).
        nodes: The address each live node registered under.
        cpus: CPUs the cluster offers.
        gpus: GPUs the cluster offers.

    """

    address: str | None
    nodes: tuple[str, ...]
    cpus: int
    gpus: int

    def describe(self) -> str:
        """One line, e.g. ``Ray cluster at 10.0.0.5:6379: 2 nodes (10.0.0.5, 10.0.0.6), 8 CPUs, 0 GPUs``."""
        where = f"at {self.address}" if self.address else "(local instance)"
        nodes = f"{len(self.nodes)} node{'s' if len(self.nodes) != 1 else ''} ({', '.join(self.nodes)})"
        return f"Ray cluster {where}: {nodes}, {self.cpus} CPUs, {self.gpus} GPUs"


def _import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailableError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def _check_reachable(address: str) -> None:
    """Refuse an address that is not ``HOST:PORT`` or where nothing accepts connections."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayUnavailableError(
            f"--ray takes a cluster address HOST:PORT, `auto` (RAY_ADDRESS) or nothing (a local instance), "
            f"not {address!r}; the corpus folder goes before --ray"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise RayUnavailableError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with `ray start --head`"
        ) from exc


def connect(address: str | None = None, *, workers: int | None = None) -> RayBackend:
    """Join the Ray cluster at ``address`` (``auto``: ``RAY_ADDRESS``; ``None``: start a local instance).

    Args:
        address: ``HOST:PORT`` of the head node, ``auto``, or ``None``.
        workers: Embedding actors to run (default: one per GPU, else one per CPU of the cluster).

    Raises:
        RayUnavailableError: Ray is not installed, the address is malformed or unreachable,
            or joining the cluster fails (a wrong ``RAY_AUTH_TOKEN``, another Ray version).

    """
    ray = _import_ray()
    if address is not None and address != "auto":
        _check_reachable(address)
    try:
        # "local": a new instance even where this machine already runs (or recorded) another cluster.
        ray.init(address=address or "local", logging_level=logging.ERROR, log_to_driver=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayUnavailableError(f"cannot join the Ray cluster at {address or 'a local instance'}: {first}") from exc
    # Ray Data logs each job's start and end; a build's output is its own progress bar.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    context = ray.data.DataContext.get_current()
    # The writer shows its own progress bar; Ray Data's bars would fight it on the terminal.
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    resources = ray.cluster_resources()
    cluster = Cluster(
        address=address,
        nodes=tuple(sorted(node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive"))),
        cpus=int(resources.get("CPU", 0)),
        gpus=int(resources.get("GPU", 0)),
    )
    return RayBackend(cluster, workers=workers)


@functools.lru_cache(maxsize=2)
def _worker_embedder(model: str) -> Embedder:
    """The model of a worker process, loaded once however many tasks the process runs."""
    return load_embedder(model)


def _read_and_split(batch: dict[str, np.ndarray], *, model: str, settings: Settings) -> dict[str, np.ndarray]:
    """A Ray Data task: extract and split files from their bytes as a local build would (the driver's settings)."""
    # Per-batch logs of Ray Data and transformers are noise in a build's output.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    results = []
    columns = (batch["source"], batch["sha256"], batch["raw"], batch["previous"])
    for source, sha256, raw, previous in zip(*columns, strict=True):
        loaded = extract(RawFile(str(source), str(sha256), bytes(raw)), limit_mb=settings.max_file_mb)
        old = pickle.loads(previous)
        split = None
        if needs_split(loaded, old):
            assert loaded.document is not None
            split = split_document(loaded.document, _worker_embedder(model), settings)
        # Pickled here, unpickled on the driver: a transient message inside the job, never stored.
        results.append(pickle.dumps((loaded, split), protocol=pickle.HIGHEST_PROTOCOL))
    return {"index": batch["index"], "result": np.array(results, dtype=object)}


class _EmbedActor:
    """A Ray Data actor: loads the model on its first batch, then embeds one writer batch per call.

    The model is named in each call rather than the constructor: constructor arguments of a
    restartable actor live in the object store, where Ray warns they may be lost.
    """

    def __init__(self) -> None:
        """Start without a model."""
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        self._embedder: Embedder | None = None

    def __call__(
        self, batch: dict[str, np.ndarray], *, model: str, batch_size: int, int8: bool
    ) -> dict[str, np.ndarray]:
        """Embed each row's texts exactly as :meth:`qa.build.backend.LocalBackend.embed` would."""
        if self._embedder is None or self._embedder.name != model:
            # Loaded once per actor (on its GPU if it was given one).
            self._embedder = load_embedder(model, gpu=True)
        work = Work(self._embedder, Settings(model=model, batch_size=batch_size, int8=int8))
        blobs = []
        for texts in batch["texts"]:
            vectors = embed_documents(work, [str(t) for t in texts])
            blobs.append(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        return {"batch": batch["batch"], "vectors": np.array(blobs, dtype=object)}


class RayBackend:
    """A :class:`~qa.build.backend.BuildBackend` that reads, splits and embeds on a Ray cluster."""

    def __init__(self, cluster: Cluster, *, workers: int | None = None) -> None:
        """Use the cluster already joined (see :func:`connect`)."""
        self.cluster = cluster
        default = cluster.gpus or cluster.cpus
        self.workers = max(1, workers if workers is not None else default)

    def close(self) -> None:
        """Leave the cluster (a local instance started for the build stops)."""
        _import_ray().shutdown()

    def prepare(
        self, source: Source, names: Sequence[str], previous: Mapping[str, IndexedFile], work: Work
    ) -> Iterator[Prepared]:
        """Read files on the driver, extract and split them on the cluster; yield them in order."""
        fetch: Callable[[str], RawFile | Loaded] | None = getattr(source, "fetch", None)
        if fetch is None:
            # Documents given in memory (not files) are split here.
            yield from LocalBackend().prepare(source, names, previous, work)
            return
        block: list[RawFile | Loaded] = []
        size = 0
        for name in names:
            fetched = fetch(name)
            block.append(fetched)
            size += len(fetched.raw) if isinstance(fetched, RawFile) else 0
            if size >= BLOCK_BYTES or len(block) >= BLOCK_FILES:
                yield from self._prepare_block(block, previous, work)
                block, size = [], 0
        if block:
            yield from self._prepare_block(block, previous, work)

    def _prepare_block(
        self, block: list[RawFile | Loaded], previous: Mapping[str, IndexedFile], work: Work
    ) -> Iterator[Prepared]:
        """Extract and split one block's files on the cluster; skipped files come back as they are."""
        ray = _import_ray()

        rows = [
            {
                "index": index,
                "source": item.source,
                "sha256": item.sha256,
                "raw": item.raw,
                "previous": pickle.dumps(previous.get(item.source)),
            }
            for index, item in enumerate(block)
            if isinstance(item, RawFile)
        ]
        done: dict[int, tuple[Loaded, Any]] = {}
        if rows:
            dataset = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // FILES_PER_TASK)))
            dataset = dataset.map_batches(
                _read_and_split,
                batch_size=FILES_PER_TASK,
                fn_kwargs={"model": work.embedder.name, "settings": work.settings},
                num_cpus=1,
            )
            try:
                for row in dataset.iter_rows():
                    done[int(row["index"])] = pickle.loads(row["result"])
            except Exception as exc:
                raise _job_failed(exc) from exc
        for index, item in enumerate(block):
            if isinstance(item, Loaded):
                yield Prepared(item.source, item, None)
            else:
                loaded, split = done[index]
                yield Prepared(item.source, loaded, split)

    def embed(self, batches: Sequence[Sequence[str]], work: Work) -> Iterator[tuple[int, np.ndarray]]:
        """Embed the batches on a pool of actors; yield each batch's vectors as it is done."""
        if not batches:
            return
        ray = _import_ray()

        rows = [{"batch": number, "texts": list(texts)} for number, texts in enumerate(batches)]
        pool = min(self.workers, len(rows))
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        dataset = dataset.map_batches(
            _EmbedActor,
            batch_size=1,
            # Ray Data restarts a dead actor and retries its batch, however often a worker dies.
            compute=ray.data.ActorPoolStrategy(size=pool),
            fn_kwargs={
                "model": work.embedder.name,
                "batch_size": work.settings.batch_size,
                "int8": bool(work.settings.int8),
            },
            num_cpus=1,
            num_gpus=1 if self.cluster.gpus else 0,
        )
        rows_out = iter(dataset.iter_rows())
        while True:
            try:
                row = next(rows_out)
            except StopIteration:
                return
            except Exception as exc:
                raise _job_failed(exc) from exc
            vectors = np.frombuffer(row["vectors"], dtype="<f4").reshape(-1, work.embedder.dimension)
            yield int(row["batch"]), vectors.astype(np.float32)
