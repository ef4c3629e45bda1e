"""Ranking with the fake embedder: every retriever, fusion, near-duplicates folded, a checked request."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa


def test_search_returns_ranked_hits_with_scores(fake_index: qa.Index) -> None:
    hits = fake_index.search("Danube Black Sea countries", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].source == "nested/rivers.txt" and hits[0].paragraph == 1
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_k_larger_than_corpus_does_not_fail(fake_index: qa.Index) -> None:
    assert len(fake_index.search("bread", k=100)) == 6
    answer = fake_index.answer("bread", k=10**9)
    assert len(answer.quotes) + len(answer.more) == 6


@pytest.mark.parametrize("retriever", ["dense", "lexical", "hybrid"])
def test_every_retriever_finds_the_obvious_paragraph(fake_index: qa.Index, retriever: str) -> None:
    hits = fake_index.search("Etna Observatory gas emissions", k=3, retriever=retriever)  # type: ignore[arg-type]
    assert (hits[0].source, hits[0].paragraph) == ("volcano.txt", 2)


def test_rrf_fusion_is_available(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=qa.Settings(fusion="rrf"))
    assert index.search("Etna Observatory gas emissions", k=1)[0].paragraph == 2


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_rejected(fake_index: qa.Index, question: str) -> None:
    with pytest.raises(qa.QueryError, match="empty"):
        fake_index.answer(question)


def test_huge_question_is_rejected(fake_index: qa.Index) -> None:
    with pytest.raises(qa.QueryError, match="limit is 2000"):
        fake_index.search("why " * 1000)


@pytest.mark.parametrize("k", [0, -1, 2.5])
def test_bad_k_is_rejected(fake_index: qa.Index, k: object) -> None:
    with pytest.raises(qa.QueryError, match="k must be"):
        fake_index.search("bread", k=k)  # type: ignore[arg-type]


def test_unknown_retriever_is_rejected(fake_index: qa.Index) -> None:
    with pytest.raises(qa.QueryError, match="unknown retriever"):
        fake_index.search("bread", retriever="magic")  # type: ignore[arg-type]


def test_near_duplicates_are_shown_once_with_also_in(tmp_path: Path, fake: FakeEmbedder) -> None:
    para = "The harbour authority approved a new breakwater to protect fishing boats from winter storms."
    files = {
        "a.txt": f"{para}\n\nUnrelated text about violins and orchestras.",
        "b.txt": f"Other intro about gardens.\n\n{para}",
        "c.txt": para.replace("winter storms", "winter storms.").replace("new", "new,"),
    }
    index = qa.build_index(write_corpus(tmp_path / "c", files), tmp_path / "i", embedder=fake)
    hits = index.search("breakwater fishing boats harbour", k=3)
    assert hits[0].source == "a.txt"
    assert sorted(c.rsplit("/", 1)[1] for c in hits[0].also_in) == ["b.txt ¶2 (line 3)", "c.txt ¶1 (line 1)"]
    assert len({h.passage.sha256 for h in hits}) == len(hits)
    assert all("breakwater" not in h.text for h in hits[1:])


def test_paraphrases_are_not_collapsed(tmp_path: Path, fake: FakeEmbedder) -> None:
    files = {
        "mosul.txt": "In Mosul, community leaders organise cultural exchanges and humanitarian aid for Palestine.",
        "basra.txt": "In Basra, local artists organise exhibitions and scholarships that connect Iraq with Palestine.",
    }
    index = qa.build_index(write_corpus(tmp_path / "c", files), tmp_path / "i", embedder=fake)
    assert len(index.search("organise Palestine", k=2)) == 2
