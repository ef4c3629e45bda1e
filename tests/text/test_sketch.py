"""Near-duplicate signatures: stable across processes, close to the exact Jaccard similarity."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from qa.text.sketch import shingles, signature, similarities


def similarity(a: bytes, b: bytes) -> float:
    """The estimate duplicate folding makes, for two stored signatures."""
    return float(similarities(np.frombuffer(a, dtype=np.uint32)[None, :], np.frombuffer(b, dtype=np.uint32))[0])


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle arrays (1.0 for two empty ones)."""
    if not len(a) and not len(b):
        return 1.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


TEXT = " ".join(f"word{i}" for i in range(80)) + " and the harbour of the old town."


def test_signature_is_the_same_in_another_process() -> None:
    code = f"from qa.text.sketch import signature; print(signature({TEXT!r}).hex())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == signature(TEXT).hex()


def test_estimate_tracks_exact_jaccard() -> None:
    near = TEXT.replace("word40", "changed")
    far = "A completely different paragraph about volcanoes, lava and ash clouds over Sicily."
    assert similarity(signature(TEXT), signature(TEXT)) == 1.0
    exact = jaccard(shingles(TEXT), shingles(near))
    assert 0.85 < exact < 1.0
    assert abs(similarity(signature(TEXT), signature(near)) - exact) < 0.15
    assert similarity(signature(TEXT), signature(far)) < 0.2
    assert similarity(signature(""), signature("")) == 1.0
