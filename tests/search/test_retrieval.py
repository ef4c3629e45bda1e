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


# -- follow-ups against the corpus, focus, time words ------------------------------------------

TOWNS = {
    "harbour.txt": (
        "Kelso harbour opened in 1850.\n\nKelso harbour was closed in 1990 and opened again in 2020.\n\n"
        "The Kelso harbour master keeps the keys."
    ),
    "mill.txt": "Dunmore mill grinds oats.\n\nDunmore mill is open on Sundays.\n\nThe Dunmore mill pond froze once.",
}


@pytest.fixture
def towns(tmp_path: Path, fake: FakeEmbedder) -> qa.Index:
    return qa.build_index(write_corpus(tmp_path / "towns", TOWNS), tmp_path / "towns-index", embedder=fake)


def test_where_tells_the_files_holding_a_word_from_those_it_is_the_subject_of(towns: qa.Index) -> None:
    places = towns._retriever.where(["Kelso", "Dunmore", "opened", "keys", "volcano", "the"])
    assert places["Kelso"].held == {"harbour.txt"} and places["Kelso"].subject_of == {"harbour.txt"}
    assert places["Kelso"].shares == {"harbour.txt": 1.0}
    assert places["Dunmore"].subject_of == {"mill.txt"}
    # In one passage of three: held, but not the file's subject.
    assert places["keys"].held == {"harbour.txt"} and places["keys"].subject_of == frozenset()
    assert places["volcano"].held == frozenset()
    # A stop word is no search term at all.
    assert "the" not in places


def test_a_follow_up_to_another_files_subject_ranks_that_file_first(towns: qa.Index) -> None:
    answer = towns.answer("and Dunmore?", k=6, history=["When did Kelso harbour open?"])
    ranked = [q.source for q in (*answer.quotes, *answer.more)]
    assert ranked[:3] == ["mill.txt"] * 3 and set(ranked[3:]) == {"harbour.txt"}
    staying = towns.answer("who keeps its keys?", k=6, history=["When did Kelso harbour open?"])
    assert [q.source for q in (*staying.quotes, *staying.more)][:3] == ["harbour.txt"] * 3


def test_a_time_word_lifts_the_passage_that_holds_it(towns: qa.Index) -> None:
    question = "When did Kelso harbour open again?"
    with_markers = towns.search(question, k=3)
    assert with_markers[0].paragraph == 2
    plain = qa.load_index(towns.folder, settings=qa.Settings(marker_weight=0.0), embedder=FakeEmbedder())
    scores = {h.paragraph: h.score for h in plain.search(question, k=3)}
    lifted = {h.paragraph: h.score for h in with_markers}
    # Only the passage saying "again" gains: the weight times how rare the word is.
    rarity = towns.snapshot.lexical.scores("again", 1).max_idf
    assert 0 < rarity < 1
    assert lifted[2] - scores[2] == pytest.approx(towns.settings.marker_weight * rarity)
    assert lifted[1] == pytest.approx(scores[1]) and lifted[3] == pytest.approx(scores[3])
