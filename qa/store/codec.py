"""How vectors are stored: little-endian float32 blobs checked as they are read, and stable 64-bit ids.

Every reader of stored vectors (snapshots, the writer's checks, its base freezing) decodes
them with :func:`checked_vectors`, so that what counts as damaged is decided in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Vector ids are ``passage_id << WINDOW_BITS | window``: stable 64-bit ids, one per window.
WINDOW_BITS = 16


def vector_id(passage_id: int, window: int) -> int:
    """The stable vector id of window ``window`` of passage ``passage_id``."""
    return (passage_id << WINDOW_BITS) | window


def passage_of(vector_ids: np.ndarray) -> np.ndarray:
    """The passage id of each vector id."""
    return np.asarray(vector_ids, dtype=np.int64) >> WINDOW_BITS


def encode_vector(vector: np.ndarray) -> bytes:
    """A vector as the little-endian float32 bytes stored in the database."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def decode_vectors(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    """Stack stored vector blobs into an ``(n, dimension)`` float32 array.

    Raises:
        ValueError: A blob has the wrong length.

    """
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    joined = b"".join(blobs)
    if len(joined) != len(blobs) * dimension * 4 or any(len(b) != dimension * 4 for b in blobs):
        raise ValueError(f"a stored vector does not have {dimension} dimensions")
    return np.frombuffer(joined, dtype="<f4").reshape(len(blobs), dimension).astype(np.float32)


def valid_rows(vectors: np.ndarray, *, normalized: bool) -> np.ndarray:
    """A boolean mask of rows that are finite and, if ``normalized``, of unit length."""
    finite: np.ndarray = np.isfinite(vectors).all(axis=1)
    if not normalized:
        return finite
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.linalg.norm(np.where(np.isfinite(vectors), vectors, 0.0), axis=1)
    ok = finite & (np.abs(norms - 1.0) < 1e-3)
    return np.asarray(ok, dtype=bool)


def checked_vectors(
    blobs: Sequence[bytes | None], dimension: int, *, normalized: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Stored vector blobs as an ``(n, dimension)`` float32 matrix, and which rows are sound.

    A row is sound when its blob is there, is ``dimension`` float32 values long, is finite and,
    if ``normalized``, of unit length. Unsound rows are left as zeros in the matrix.
    """
    matrix = np.zeros((len(blobs), dimension), dtype=np.float32)
    sized = np.array([isinstance(b, bytes) and len(b) == dimension * 4 for b in blobs], dtype=bool)
    if sized.any():
        matrix[sized] = decode_vectors([b for b, ok in zip(blobs, sized, strict=True) if ok], dimension)  # type: ignore[misc]
    good = sized.copy()
    good[sized] = valid_rows(matrix[sized], normalized=normalized)
    matrix[~good] = 0.0
    return matrix, good
