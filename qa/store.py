"""Persisting an index folder: manifest, vectors, passages and keyword index, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .documents import Passage
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .lexical import LexicalIndex
from .vectors import VectorIndex

#: Bumped whenever the files of an index change shape.
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
_ARTIFACT_PREFIXES = ("vectors-", "passages-", "lexical-")


@dataclass(frozen=True)
class StoredPassage:
    """A passage as stored: the passage, its embedding windows and what was embedded.

    Attributes:
        passage: The cited paragraph.
        windows: ``(start, end)`` spans within ``passage.text``, one vector each.
        embedded: SHA-256 of each exact string given to the model, for reuse on rebuild.

    """

    passage: Passage
    windows: tuple[tuple[int, int], ...]
    embedded: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """What an index folder holds and how it was built; checked on every load."""

    format_version: int
    model: str
    dimension: int
    normalized: bool
    metric: str
    context: bool
    lexical_title: bool
    passage_count: int
    vector_count: int
    corpus: str
    corpus_label: str
    fingerprint: str
    files: dict[str, str]
    skipped: dict[str, str]
    artifacts: dict[str, str]
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Parse a manifest, checking the format version first.

        Raises:
            IndexMismatchError: The index was written by another format version.
            IndexCorruptError: Fields are missing or of the wrong type.

        """
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index format {version} is not the format this version reads ({FORMAT_VERSION}); "
                "rebuild it with `qa index`"
            )
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise IndexCorruptError(f"manifest is missing a field: {exc}") from exc


def fingerprint(files: dict[str, str]) -> str:
    """A SHA-256 over the sorted ``source -> sha256`` pairs of a corpus."""
    digest = hashlib.sha256()
    for source in sorted(files):
        digest.update(f"{source}\0{files[source]}\n".encode())
    return digest.hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """Read and check ``folder/manifest.json``.

    Raises:
        IndexNotFoundError: There is no manifest.
        IndexCorruptError: The manifest is not valid JSON or lacks fields.
        IndexMismatchError: It was written by another format version.

    """
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexNotFoundError(f"no index in {folder}: build one with `qa index`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); rebuild with `qa index`") from exc
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{path} is not a JSON object; rebuild with `qa index`")
    return Manifest.from_json(data)


def _passage_record(stored: StoredPassage) -> str:
    """One JSON line for a stored passage."""
    record = asdict(stored.passage)
    record["windows"] = [list(w) for w in stored.windows]
    record["embedded"] = list(stored.embedded)
    return json.dumps(record, ensure_ascii=False)


def _parse_passage(line: str) -> StoredPassage:
    """Parse one JSON line written by :func:`_passage_record`."""
    record = json.loads(line)
    windows = tuple((int(s), int(e)) for s, e in record.pop("windows"))
    embedded = tuple(str(h) for h in record.pop("embedded"))
    return StoredPassage(Passage(**record), windows, embedded)


def _flush(path: Path) -> None:
    """Force a written file's contents to disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _flush_folder(folder: Path) -> None:
    """Force a folder's renames to disk, where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _replace_atomically(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final`` in one step, flushing file contents first."""
    if tmp.is_file():
        _flush(tmp)
    os.replace(tmp, final)


def save(
    folder: Path,
    manifest: Manifest,
    vectors: VectorIndex,
    passages: list[StoredPassage],
    lexical: LexicalIndex,
) -> Manifest:
    """Write a complete index into ``folder`` without ever exposing a half-written one.

    Data files get fresh unique names; ``manifest.json`` is replaced last in one
    atomic rename, so a crash at any point leaves the previous index readable.
    Files no longer referenced are removed afterwards.

    Returns:
        The manifest as written, with its artifact names filled in.

    """
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    names = {"vectors": f"vectors-{token}.faiss", "passages": f"passages-{token}.jsonl", "lexical": f"lexical-{token}"}
    # Write each artifact under a temporary name, then rename it into place.
    tmp_vectors = folder / f".tmp-{names['vectors']}"
    vectors.save(tmp_vectors)
    _replace_atomically(tmp_vectors, folder / names["vectors"])
    tmp_passages = folder / f".tmp-{names['passages']}"
    with tmp_passages.open("w", encoding="utf-8") as handle:
        for stored in passages:
            handle.write(_passage_record(stored) + "\n")
    _replace_atomically(tmp_passages, folder / names["passages"])
    tmp_lexical = folder / f".tmp-{names['lexical']}"
    lexical.save(tmp_lexical)
    for part in tmp_lexical.iterdir():
        _flush(part)
    os.replace(tmp_lexical, folder / names["lexical"])
    # The manifest is the commit point: until it is replaced, readers see the old index.
    final = Manifest(**{**asdict(manifest), "artifacts": names})
    tmp_manifest = folder / f".tmp-{token}-{MANIFEST}"
    tmp_manifest.write_text(json.dumps(asdict(final), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _replace_atomically(tmp_manifest, folder / MANIFEST)
    _flush_folder(folder)
    _remove_unreferenced(folder, set(names.values()))
    return final


def _remove_unreferenced(folder: Path, keep: set[str]) -> None:
    """Delete artifacts and temporary files of earlier or interrupted builds."""
    for path in folder.iterdir():
        stale = path.name.startswith(".tmp-") or (path.name.startswith(_ARTIFACT_PREFIXES) and path.name not in keep)
        if not stale:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Loaded:
    """The parts of an index folder, read and cross-checked."""

    manifest: Manifest
    vectors: VectorIndex
    passages: tuple[StoredPassage, ...]
    lexical: LexicalIndex


def load(folder: Path) -> Loaded:
    """Read an index folder and check that its parts agree with the manifest.

    Raises:
        IndexNotFoundError: There is no index in ``folder``.
        IndexCorruptError: A file is missing, unreadable or disagrees with the manifest.
        IndexMismatchError: The index was written by another format version.

    """
    manifest = read_manifest(folder)
    hint = "; rebuild with `qa index`"
    for name in ("vectors", "passages", "lexical"):
        if name not in manifest.artifacts or not (folder / manifest.artifacts[name]).exists():
            raise IndexCorruptError(f"index in {folder} lacks its {name} file{hint}")
    vectors = VectorIndex.load(folder / manifest.artifacts["vectors"], manifest.dimension)
    try:
        text = (folder / manifest.artifacts["passages"]).read_text(encoding="utf-8")
        # Split on "\n" only: paragraph text may hold U+2028 and other line separators.
        passages = tuple(_parse_passage(line) for line in text.split("\n") if line.strip())
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"passages of the index in {folder} are unreadable ({exc}){hint}") from exc
    if len(passages) != manifest.passage_count:
        raise IndexCorruptError(
            f"index in {folder} holds {len(passages)} passages, its manifest {manifest.passage_count}{hint}"
        )
    windows = sum(len(p.windows) for p in passages)
    if not len(vectors) == windows == manifest.vector_count:
        raise IndexCorruptError(
            f"index in {folder} holds {len(vectors)} vectors for {windows} windows, "
            f"its manifest {manifest.vector_count}{hint}"
        )
    lexical = LexicalIndex.load(folder / manifest.artifacts["lexical"], manifest.passage_count)
    return Loaded(manifest, vectors, passages, lexical)
