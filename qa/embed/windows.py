"""Token windows: a long text cut into overlapping spans the model can read whole."""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int]


def token_windows(offsets: Sequence[tuple[int, int]], length: int, budget: int, overlap: int) -> list[Span]:
    """Group token character offsets into overlapping windows of ``budget`` tokens.

    Args:
        offsets: ``(start, end)`` character offsets of each token.
        length: Length of the text the offsets point into.
        budget: Most tokens in one window (at least 1).
        overlap: Tokens repeated at the start of the next window.

    Returns:
        Character spans; one span covering the whole text when it fits.

    """
    budget = max(1, budget)
    if len(offsets) <= budget:
        return [(0, length)]
    step = max(1, budget - max(0, min(overlap, budget - 1)))
    spans: list[Span] = []
    for first in range(0, len(offsets), step):
        last = min(first + budget, len(offsets)) - 1
        spans.append((offsets[first][0], offsets[last][1]))
        if last == len(offsets) - 1:
            break
    return spans
