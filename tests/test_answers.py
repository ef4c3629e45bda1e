"""Answer logic with the fake embedder: abstention, verification, duplicates, highlights, bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa


def test_answer_quotes_verbatim_with_citation(fake_index: qa.Index, corpus: Path) -> None:
    answer = fake_index.answer("When did the Corner Bakery open and what bread is it famous for?")
    assert answer.found
    top = answer.quotes[0]
    assert (top.source, top.paragraph, top.start_line, top.end_line) == ("bakery.md", 1, 3, 3)
    assert top.citation.endswith("bakery.md ¶1 (line 3)")
    text = (corpus / top.source).read_text(encoding="utf-8")
    assert text[top.start_char : top.end_char] == top.text
    # Five passages ranked: those that clear the relevance cut are quotes, the rest "more".
    assert len(answer.quotes) + len(answer.more) == 5 and answer.quotes
    assert [q.score for q in (*answer.quotes, *answer.more)] == sorted(
        (q.score for q in (*answer.quotes, *answer.more)), reverse=True
    )
    data = answer.to_dict()
    assert len(data["quotes"]) == len(answer.quotes) and len(data["more"]) == len(answer.more)
    assert set(data["more"][0]) == set(data["quotes"][0])


def test_search_returns_ranked_hits_with_scores(fake_index: qa.Index) -> None:
    hits = fake_index.search("Danube Black Sea countries", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].source == "nested/rivers.txt" and hits[0].paragraph == 1
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_k_larger_than_corpus_does_not_fail(fake_index: qa.Index) -> None:
    assert len(fake_index.search("bread", k=100)) == 6
    answer = fake_index.answer("bread", k=10**9)
    assert len(answer.quotes) + len(answer.more) == 6


def test_nothing_relevant_abstains_but_shows_closest(fake_index: qa.Index) -> None:
    answer = fake_index.answer("quantum chromodynamics lattice gauge")
    assert not answer.found
    assert "No passage" in answer.message and "probably not an answer" in answer.message
    assert answer.quotes and answer.best_score is not None and answer.best_score < 0.2


@pytest.mark.parametrize("retriever", ["dense", "lexical", "hybrid"])
def test_every_retriever_finds_the_obvious_paragraph(fake_index: qa.Index, retriever: str) -> None:
    hits = fake_index.search("Etna Observatory gas emissions", k=3, retriever=retriever)  # type: ignore[arg-type]
    assert (hits[0].source, hits[0].paragraph) == ("volcano.txt", 2)


def test_rrf_fusion_is_available(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=qa.Settings(fusion="rrf"))
    assert index.search("Etna Observatory gas emissions", k=1)[0].paragraph == 2


def test_weak_match_is_answered_with_a_caveat(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    settings = qa.Settings(threshold=0.05, confident=0.99)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=settings)
    answer = index.answer("Etna Observatory gas emissions")
    assert answer.found and not answer.confident
    assert answer.message.startswith("Weak match")
    assert answer.to_dict()["confident"] is False
    strong = qa.load_index(tmp_path / "i", embedder=fake, settings=qa.Settings(threshold=0.05, confident=0.1))
    assert strong.answer("Etna Observatory gas emissions").confident


def test_lexical_retriever_abstains_when_no_word_matches(fake_index: qa.Index) -> None:
    assert not fake_index.answer("xylophone zeppelin", retriever="lexical").found
    assert fake_index.answer("sourdough", retriever="lexical").found


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


def test_edited_file_is_not_quoted_stale(fake_index: qa.Index, corpus: Path) -> None:
    (corpus / "bakery.md").write_text("# The Corner Bakery\n\nIt closed down.\n", encoding="utf-8")
    answer = fake_index.answer("sourdough bread baked before dawn", k=1)
    assert all(q.source != "bakery.md" or q.paragraph == 1 for q in answer.quotes)
    assert any("no longer in the file" in w and "bakery.md" in w for w in answer.warnings)


def test_moved_paragraph_is_cited_where_it_is_now(fake_index: qa.Index, corpus: Path) -> None:
    path = corpus / "bakery.md"
    path.write_text("Inserted first.\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    answer = fake_index.answer("Maria Rossi trains apprentices", k=1)
    quote = answer.quotes[0]
    assert quote.relocated and (quote.paragraph, quote.start_line) == (3, 7)
    assert path.read_text(encoding="utf-8")[quote.start_char : quote.end_char] == quote.text
    assert any("changed since indexing" in w for w in answer.warnings)


def test_same_length_edit_that_moves_lines_is_recited(fake_index: qa.Index, corpus: Path) -> None:
    path = corpus / "volcano.txt"
    original = path.read_text(encoding="utf-8")
    # Same length, same offsets for the second paragraph, but it is now two lines lower.
    path.write_text(original.replace("Mount Etna is", "Mount\nEtna\nis", 1), encoding="utf-8")
    quote = fake_index.answer("Etna Observatory gas emissions", k=1).quotes[0]
    assert quote.paragraph == 2 and quote.start_line == 6 and quote.relocated
    assert path.read_text(encoding="utf-8")[quote.start_char : quote.end_char] == quote.text


def test_deleted_file_is_reported(fake_index: qa.Index, corpus: Path) -> None:
    (corpus / "volcano.txt").unlink()
    answer = fake_index.answer("Etna Observatory gas emissions", k=1)
    assert all(q.source != "volcano.txt" for q in answer.quotes)
    assert any("volcano.txt" in w for w in answer.warnings)


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


def test_also_in_citations_are_rechecked_like_quotes(tmp_path: Path, fake: FakeEmbedder) -> None:
    para = "The harbour authority approved a new breakwater to protect fishing boats from winter storms."
    files = {
        "a.txt": f"{para}\n\nUnrelated text about violins and orchestras.",
        "b.txt": f"Other intro about gardens.\n\n{para}",
        "c.txt": f"{para}",
    }
    corpus = write_corpus(tmp_path / "c", files)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=qa.Settings(threshold=0.0))
    # b.txt gains a line before the paragraph (it moves); c.txt loses it (gone).
    (corpus / "b.txt").write_text(f"New first line.\n\nOther intro about gardens.\n\n{para}", encoding="utf-8")
    (corpus / "c.txt").write_text("Now about something else entirely.", encoding="utf-8")
    quote = index.answer("breakwater fishing boats harbour", 1).quotes[0]
    assert quote.source == "a.txt"
    assert [c.rsplit("/", 1)[1] for c in quote.also_in] == ["b.txt ¶3 (line 5)"]
    moved = quote.duplicates[0]
    assert (corpus / "b.txt").read_text(encoding="utf-8")[moved.start_char : moved.end_char] == moved.text


def test_paraphrases_are_not_collapsed(tmp_path: Path, fake: FakeEmbedder) -> None:
    files = {
        "mosul.txt": "In Mosul, community leaders organise cultural exchanges and humanitarian aid for Palestine.",
        "basra.txt": "In Basra, local artists organise exhibitions and scholarships that connect Iraq with Palestine.",
    }
    index = qa.build_index(write_corpus(tmp_path / "c", files), tmp_path / "i", embedder=fake)
    assert len(index.search("organise Palestine", k=2)) == 2


def test_highlights_point_into_the_quote(fake_index: qa.Index) -> None:
    answer = fake_index.answer("Mount Etna active volcano Sicily", k=2)
    top = answer.quotes[0]
    assert top.highlights
    start, end = top.highlights[0]
    assert 0 <= start < end <= len(top.text)
    assert top.text[start:end] == "Mount Etna is an active volcano on the east coast of Sicily."


def test_answer_json_shape(fake_index: qa.Index) -> None:
    data = fake_index.answer("sourdough").to_dict()
    assert set(data) >= {"question", "found", "quotes"}
    assert set(data["quotes"][0]) >= {"source", "paragraph", "start_line", "end_line", "text", "score", "highlights"}


def test_huge_paragraph_answers_with_bounded_highlighting(tmp_path: Path, fake: FakeEmbedder) -> None:
    from qa.answer import highlight

    corpus = write_corpus(
        tmp_path / "corpus",
        {"huge.txt": " ".join(f"Sentence {n} is about the harbour crane." for n in range(4000))},
    )
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=-1))
    scored: list[int] = []
    original = index.scorer

    def counting(question: str, sentences: list[str]) -> np.ndarray:
        scored.append(len(sentences))
        assert all(len(s) <= highlight.HIGHLIGHT_CHARS for s in sentences)
        return original(question, sentences)

    index.scorer = counting
    answer = index.answer("harbour crane")
    assert answer.quotes and len(answer.quotes[0].text) > 150_000
    # 4,000 sentences in the paragraph; at most highlight_sentences of them are scored.
    assert scored == [index.settings.highlight_sentences]
    fewer = qa.load_index(tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=-1, highlight_sentences=5))
    fewer.scorer = counting
    scored.clear()
    fewer.answer("harbour crane")
    assert scored == [5]
