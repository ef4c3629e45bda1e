"""Word-trigram sketches of paragraphs: Jaccard similarity estimated by MinHash signatures.

Each paragraph's signature is computed once, when it is indexed, and stored with it, so
that folding duplicates at question time compares 64 numbers instead of re-reading and
re-shingling every candidate's text.
"""

from __future__ import annotations

import zlib

import numpy as np

from .words import WORD

#: Hash functions per signature: the estimate's standard error is sqrt(J(1-J)/64), 0.05 at J = 0.8.
SIGNATURE_SIZE = 64
_SEEDS = np.random.default_rng(20261125).integers(1, 2**63, size=SIGNATURE_SIZE, dtype=np.uint64)
_EMPTY = np.full(SIGNATURE_SIZE, np.iinfo(np.uint32).max, dtype=np.uint32)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a fixed, well-spread 64-bit hash of each value."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed: np.ndarray = values ^ (values >> np.uint64(31))
        return mixed


def shingles(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of the lower-cased word trigrams of ``text`` (the same in every process)."""
    words = np.fromiter((zlib.crc32(w.encode()) for w in WORD.findall(text.lower())), dtype=np.uint64)
    if len(words) < 3:
        grams = words
    else:
        with np.errstate(over="ignore"):
            grams = _mix(words[:-2] * np.uint64(0x100000001B3) ^ _mix(words[1:-1]) ^ _mix(_mix(words[2:])))
    return np.unique(grams)


def signature(text: str) -> bytes:
    """The MinHash signature of ``text``'s word trigrams, as bytes to store."""
    grams = shingles(text)
    if not len(grams):
        return _EMPTY.tobytes()
    hashed = _mix(grams[None, :] ^ _SEEDS[:, None])
    return bytes((hashed.min(axis=1) >> np.uint64(32)).astype(np.uint32).tobytes())


def similarities(signatures: np.ndarray, one: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of each row of ``signatures`` (uint32, one per row) with ``one``."""
    shares: np.ndarray = (signatures == one).mean(axis=1)
    return shares
