"""The vector side at sizes that switch index types: IVF base, deleted ids filtered, delta searched exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder
from workers import article

import qa
from qa.store import freeze as writer_module
from qa.store import vectors as vectors_module
from qa.store.vectors import exact_search


def test_exact_search_orders_and_caps() -> None:
    matrix = np.eye(4, dtype=np.float32)
    ids = np.array([10, 11, 12, 13], dtype=np.int64)
    found, scores = exact_search(matrix, ids, np.array([0.1, 0.9, 0.5, 0.0], dtype=np.float32), 10)
    assert found.tolist() == [11, 12, 10, 13]
    assert scores.tolist() == pytest.approx([0.9, 0.5, 0.1, 0.0])


def test_ivf_base_with_deleted_ids_and_a_delta(
    tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number in range(40):
        (corpus / f"article_{number}.txt").write_text(article(number, 0), encoding="utf-8")
    monkeypatch.setattr(vectors_module, "EXACT_MAX", 50)
    monkeypatch.setattr(writer_module, "MERGE_MIN", 0)
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake)
    assert index.snapshot.base is not None and index.snapshot.base.kind == "ivf"
    assert index.search("bridge7 repainted", k=1, retriever="dense")[0].source == "article_7.txt"
    # Small edits now stay in the delta: the base keeps the old vectors, filtered out.
    monkeypatch.setattr(writer_module, "MERGE_MIN", 10_000)
    (corpus / "article_7.txt").write_text(article(7, 1).replace("bridge7", "viaduct7"), encoding="utf-8")
    edited = qa.build_index(corpus, tmp_path / "index", embedder=fake)
    assert edited.snapshot.meta.base_generation < edited.generation
    assert len(edited.snapshot.lexical.base or []) == 200
    hits = edited.search("viaduct7 repainted", k=3)
    assert hits[0].source == "article_7.txt" and "viaduct7" in hits[0].text
    text = (corpus / "article_7.txt").read_text(encoding="utf-8")
    for retriever in ("dense", "lexical", "hybrid"):
        for hit in edited.search("bridge7 repainted town7", k=10, retriever=retriever):
            if hit.source == "article_7.txt":
                assert text[hit.start_char : hit.end_char] == hit.text, "a removed paragraph came back"


def test_hybrid_on_two_threads_ranks_as_on_one(fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.search import retrieval

    questions = ["Who trains apprentices?", "Etna lava farmland", "barges carry grain", "sourdough before dawn"]
    single = [[(h.citation, round(h.score, 9)) for h in fake_index.search(q, k=5)] for q in questions]
    monkeypatch.setattr(retrieval, "OVERLAP_FROM", 0)
    overlapped = [[(h.citation, round(h.score, 9)) for h in fake_index.search(q, k=5)] for q in questions]
    assert overlapped == single


def test_keyword_scores_ignore_passages_removed_since_the_base(
    tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Etna volcano erupts.\n\nRivers flow to the sea.\n\nMountains rise high.")
    for number in range(4):
        (corpus / f"v{number}.txt").write_text("The volcano volcano rumbles at night.")
    monkeypatch.setattr(writer_module, "MERGE_MIN", 0)
    qa.build_index(corpus, tmp_path / "incremental", embedder=fake)
    monkeypatch.setattr(writer_module, "MERGE_MIN", 10_000)
    for number in range(4):
        (corpus / f"v{number}.txt").unlink()
    incremental = qa.build_index(corpus, tmp_path / "incremental", embedder=fake)
    assert incremental.snapshot.meta.base_generation < incremental.generation
    fresh = qa.build_index(corpus, tmp_path / "fresh", embedder=fake)
    got = [(h.citation, round(h.score, 6)) for h in incremental.search("volcano", k=3, retriever="lexical")]
    assert got == [(h.citation, round(h.score, 6)) for h in fresh.search("volcano", k=3, retriever="lexical")]
    assert got[0][1] > 0
