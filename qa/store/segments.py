"""Keyword segments: a term-by-document matrix per frozen base (read once, checksummed) or built in memory.

A segment is written when the base is frozen, as NumPy arrays with explicit names (no
pickle); every array's shape and range is checked when it is opened, so that no question
can later index past one. A base segment is read into memory, never memory-mapped: its
files truncated or overwritten under a running server cannot crash it or change its answers.
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError
from .integrity import FileStamp, bytes_sha256, files_sha256

_ARRAYS = ("indptr", "rows", "tf", "doc_ids", "doc_len")


@dataclass(frozen=True)
class Segment:
    """A keyword segment: a term-by-document matrix in CSC form.

    Attributes:
        indptr: Start of each term's postings in ``rows``/``tf`` (one more than terms).
        rows: Document row of each posting.
        tf: Term frequency of each posting.
        doc_ids: Passage id of each document row, ascending.
        doc_len: Terms in each document.
        vocabulary: Term -> column, for an in-memory segment (a base keeps it in the database).
        path: The segment's folder, for a base.
        sha256: Checksum of the arrays, for a base.
        stamps: The array files as they were when read, for a base.

    """

    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    doc_ids: np.ndarray
    doc_len: np.ndarray
    vocabulary: dict[str, int] | None = None
    path: Path | None = None
    sha256: str = ""
    stamps: tuple[FileStamp | None, ...] = ()

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]]) -> Segment:
        """An in-memory segment of ``(passage_id, terms)`` documents, ids ascending."""
        arrays, vocabulary = _arrays(documents)
        return cls(vocabulary=vocabulary, **arrays)  # type: ignore[arg-type]

    @classmethod
    def open(cls, path: Path, sha256: str, *, verify: bool = True) -> Segment:
        """Read a segment written by :func:`write_segment` into memory, checking its checksum (if ``verify``).

        Raises:
            IndexCorruptError: A file is missing, unreadable or damaged.

        """
        hint = "; run `qa index` to repair it"
        files = array_files(path)
        stamps = tuple(FileStamp.of(file) for file in files)
        try:
            # Read once: the bytes checked are the bytes searched.
            contents = [file.read_bytes() for file in files]
        except OSError as exc:
            raise IndexCorruptError(
                f"the keyword index {path} is unreadable ({exc}){hint}", part="keyword index"
            ) from exc
        if verify and bytes_sha256(*contents) != sha256:
            raise IndexCorruptError(
                f"the keyword index {path} is damaged (checksum mismatch){hint}", part="keyword index"
            )
        arrays: dict[str, np.ndarray] = {}
        for name, content in zip(_ARRAYS, contents, strict=True):
            try:
                arrays[name] = np.load(io.BytesIO(content), allow_pickle=False)
            except Exception as exc:
                # numpy reports a garbled or truncated file in several ways (OSError, ValueError, EOFError, ...).
                raise IndexCorruptError(
                    f"the keyword index {path} is unreadable ({name}.npy: {type(exc).__name__}: {exc}){hint}"
                ) from exc
        problem = _layout_problem(arrays)
        if problem:
            raise IndexCorruptError(f"the keyword index {path} is damaged ({problem}){hint}", part="keyword index")
        return cls(path=path, sha256=sha256, stamps=stamps, **arrays)  # type: ignore[arg-type]

    @property
    def terms(self) -> int:
        """Columns (distinct terms) of the matrix."""
        return len(self.indptr) - 1

    def __len__(self) -> int:
        """Documents in the segment."""
        return len(self.doc_ids)

    def postings(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, tf)`` of one term."""
        start, end = int(self.indptr[column]), int(self.indptr[column + 1])
        return np.asarray(self.rows[start:end], dtype=np.int64), np.asarray(self.tf[start:end], dtype=np.float64)

    def rows_of(self, passage_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, found)``: each passage's row, and whether it is in this segment."""
        if not len(self.doc_ids) or not len(passage_ids):
            return np.zeros(len(passage_ids), dtype=np.int64), np.zeros(len(passage_ids), dtype=bool)
        rows = np.minimum(np.searchsorted(self.doc_ids, passage_ids), len(self.doc_ids) - 1)
        return rows, np.asarray(self.doc_ids[rows]) == passage_ids


def _layout_problem(arrays: dict[str, np.ndarray]) -> str:
    """What is wrong with a segment's arrays, or ``""``: shapes, kinds and ranges, read once at open.

    Checked so that no question can later index past an array: ``indptr`` starts at 0, never
    decreases and ends at the number of postings; every posting's row is a document row; passage
    ids ascend; frequencies and lengths are finite and not negative.
    """
    kinds = {"indptr": "i", "rows": "iu", "tf": "fiu", "doc_ids": "iu", "doc_len": "fiu"}
    for name, allowed in kinds.items():
        array = arrays[name]
        if array.ndim != 1 or array.dtype.kind not in allowed:
            return f"{name}.npy holds a {array.dtype} array of shape {array.shape}"
    indptr, rows, tf = arrays["indptr"], arrays["rows"], arrays["tf"]
    doc_ids, doc_len = arrays["doc_ids"], arrays["doc_len"]
    if len(indptr) < 1 or int(indptr[0]) != 0 or int(indptr[-1]) != len(rows):
        return f"indptr.npy does not span the {len(rows)} postings"
    if np.any(np.diff(indptr) < 0):
        return "indptr.npy decreases"
    if len(tf) != len(rows):
        return f"tf.npy holds {len(tf)} frequencies for {len(rows)} postings"
    if len(doc_len) != len(doc_ids):
        return f"doc_len.npy holds {len(doc_len)} lengths for {len(doc_ids)} documents"
    if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(doc_ids)):
        return f"rows.npy names a document outside 0..{len(doc_ids) - 1}"
    if len(doc_ids) and (int(doc_ids[0]) < 0 or np.any(np.diff(doc_ids) <= 0)):
        return "doc_ids.npy is not ascending"
    for name, values in (("tf", tf), ("doc_len", doc_len)):
        # min and max carry a NaN through, so these two reductions catch NaN, infinities and negatives.
        if len(values) and not (float(values.min()) >= 0 and math.isfinite(float(values.max()))):
            return f"{name}.npy holds a negative or non-finite value"
    return ""


def array_files(path: Path) -> list[Path]:
    """The array files of the segment folder ``path``, in checksum order."""
    return [path / f"{name}.npy" for name in _ARRAYS]


def checksum(path: Path) -> str:
    """SHA-256 over a segment's array files, in a fixed order."""
    return files_sha256(array_files(path))


def _arrays(documents: Iterable[tuple[int, str]]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The CSC arrays and vocabulary of ``(passage_id, terms)`` documents."""
    vocabulary: dict[str, int] = {}
    term_parts: list[np.ndarray] = []
    row_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    doc_ids: list[int] = []
    doc_len: list[int] = []
    for row, (pid, text) in enumerate(documents):
        counts = Counter(text.split())
        doc_ids.append(pid)
        doc_len.append(sum(counts.values()))
        if counts:
            term_parts.append(np.array([vocabulary.setdefault(t, len(vocabulary)) for t in counts], dtype=np.int64))
            row_parts.append(np.full(len(counts), row, dtype=np.int32))
            tf_parts.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    terms = np.concatenate(term_parts) if term_parts else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int32)
    tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, dtype=np.float32)
    # Column-major: postings grouped by term, rows ascending within each term.
    order = np.lexsort((rows, terms))
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=indptr[1:])
    arrays = {
        "indptr": indptr,
        "rows": rows[order],
        "tf": tf[order],
        "doc_ids": np.asarray(doc_ids, dtype=np.int64),
        "doc_len": np.asarray(doc_len, dtype=np.float32),
    }
    return arrays, vocabulary


def write_segment(path: Path, documents: Iterable[tuple[int, str]]) -> tuple[str, dict[str, int]]:
    """Write a segment of ``(passage_id, terms)`` documents (ascending ids) to the folder ``path``.

    Files are written under a temporary name, flushed, then renamed into place.

    Returns:
        The checksum and the vocabulary (term -> column).

    """
    arrays, vocabulary = _arrays(documents)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        with (tmp / f"{name}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
    digest = checksum(tmp)
    os.replace(tmp, path)
    return digest, vocabulary
