"""What an index holds and how it was built: the :class:`Manifest` view, and ``manifest.json`` for people.

The database is the truth; ``manifest.json`` beside it is a summary a person can read,
rewritten after every change, and the place an index folder names its corpus for a new process.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import IndexFormatError, IndexMismatchError, IndexNotFoundError
from .database import DATABASE, FORMAT_VERSION, Meta, database_path

#: The summary's file name in an index folder.
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """What an index holds and how it was built (read from the database).

    Attributes:
        format_version: Layout version of the index folder.
        model: Embedding model name.
        dimension: Vector length.
        normalized: Whether vectors are unit length.
        metric: Similarity used (``inner_product``).
        context: Whether paragraphs were embedded with their article's title and lead.
        lexical_title: Whether the keyword index holds each paragraph's article title.
        sentences: Whether each paragraph's sentences were embedded on their own too.
        int8: Whether documents were embedded through the model's int8 twin (questions never are).
        passage_count: Paragraphs indexed.
        vector_count: Vectors (one per paragraph window).
        corpus: The corpus folder relative to the index folder.
        corpus_label: How citations name the corpus folder.
        generation: Commit counter of searchable content.
        files: SHA-256 of each indexed file's bytes.
        skipped: Files that could not be read, with the reason.

    """

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
    generation: int
    files: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    sentences: bool = True
    int8: bool = False


def write_manifest(folder: Path, meta: Meta, *, passages: int, files: int) -> None:
    """Write the summary beside the database atomically (temporary name, then rename)."""
    summary = {**asdict(meta), "passage_count": passages, "file_count": files, "database": DATABASE}
    tmp = folder / f".tmp-{uuid.uuid4().hex[:8]}-{MANIFEST}"
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def recorded_corpus(folder: Path) -> str | None:
    """The corpus folder an index's ``manifest.json`` records, if it is still there."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("corpus")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(recorded, str) or not recorded:
        return None
    path = folder / recorded
    return str(path) if path.is_dir() else None


def refuse_old_format(folder: Path) -> None:
    """Raise a clear error for a folder without a database: none at all, or the format-1 layout (files + manifest).

    Raises:
        IndexNotFoundError: There is no index (or only its summary).
        IndexFormatError: The folder holds an index of the format-1 layout.
        IndexMismatchError: Its summary names a later format than this version reads.

    """
    if database_path(folder).is_file():
        return
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise IndexNotFoundError(f"no index in {folder}: build one with `qa index`")
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("format_version")
    except (OSError, ValueError, AttributeError, RecursionError):
        version = None
    if not isinstance(version, int) or isinstance(version, bool):
        # A summary naming no version and no database: nothing here can be read, whatever wrote it.
        raise IndexNotFoundError(
            f"no index in {folder} (only a manifest.json that names no format): build one with `qa index`"
        )
    if version == FORMAT_VERSION:
        # The summary of a current index without its database: nothing to read, not an old format.
        raise IndexNotFoundError(
            f"the index database {database_path(folder).name} in {folder} is missing "
            "(manifest.json is only its summary): build the index with `qa index`"
        )
    if version > FORMAT_VERSION:
        # A later version wrote it: never rebuilt over, as Meta.read refuses a newer database.
        raise IndexMismatchError(
            f"index format {version} is not the format this version reads ({FORMAT_VERSION}); "
            "rebuild it with `qa index` if this version is to use it"
        )
    raise IndexFormatError(
        f"the index in {folder} is in an older format ({version}) that this version does not read; "
        "run `qa index` to rebuild it"
    )
