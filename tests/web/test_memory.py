"""Memory given back after a burst: the heap is trimmed once requests stop, not while they come."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import serving

import qa
from qa.web import memory


def test_the_heap_is_trimmed_after_a_burst_and_at_most_every_gap_while_requests_keep_coming(
    fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "GAP_SECONDS", 2.0)
    with serving(fake_index) as base:
        for _ in range(3):
            httpx.post(f"{base}/api/v1/answer", json={"question": "Where is Mount Etna?"}, timeout=60)
        before = memory.KEEPER.trims
        # While requests keep coming (as from open pages), at most one trim every GAP_SECONDS ...
        until = time.monotonic() + 3.0
        while time.monotonic() < until:
            httpx.get(f"{base}/health", timeout=10)
            time.sleep(0.05)
        during = memory.KEEPER.trims - before
        assert during <= 2
        # ... and once they stop, the heap is trimmed once more, and then left alone.
        deadline = time.monotonic() + 10
        while memory.KEEPER.trims == before + during and time.monotonic() < deadline:
            time.sleep(0.05)
        assert memory.KEEPER.trims == before + during + 1
        time.sleep(1.5)
        assert memory.KEEPER.trims == before + during + 1


def test_question_time_runs_give_their_memory_back() -> None:
    from qa.embed.onnx import _shrinking

    options = _shrinking()
    assert options.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
