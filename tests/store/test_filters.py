"""Limiting a question to chosen files and folders: applied inside the search, on every index layout."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, write_corpus
from fakes import FakeEmbedder
from workers import article

import qa
from qa.eval.questions import read_questions
from qa.store import freeze
from qa.store import vectors as vectors_module

RETRIEVERS = ("dense", "lexical", "hybrid")
QUESTION = "volcano lava eruption crater magma"


def _strong(name: str, count: int) -> str:
    """``count`` paragraphs that each hold every word of :data:`QUESTION`, plus words of their own."""
    paragraphs = [f"Field journal {name}."]
    for n in range(count):
        own = " ".join(f"{name}{n}w{j}" for j in range(5))
        paragraphs.append(f"Volcano lava eruption crater magma {own}.")
    return "\n\n".join(paragraphs) + "\n"


def _weak(name: str, count: int) -> str:
    """``count`` paragraphs that each hold one or two words of :data:`QUESTION`."""
    paragraphs = [f"Field journal {name}."]
    for n in range(count):
        own = " ".join(f"{name}{n}w{j}" for j in range(8))
        paragraphs.append(f"{'Lava and volcano' if n % 2 else 'Volcano'} {own}.")
    return "\n\n".join(paragraphs) + "\n"


#: ``a.txt`` and ``subway.txt`` outrank everything under ``sub/`` for :data:`QUESTION`.
FILES = {
    "a.txt": _strong("alpha", 15),
    "subway.txt": _strong("metro", 4),
    "sub/b.md": _weak("beta", 4),
    "sub/deep/c.txt": _weak("gamma", 3),
}
#: Few candidates, so that a filter applied after the search would find nothing under ``sub/``.
SETTINGS = qa.Settings(candidates=1, threshold=0.05)


@pytest.fixture
def index(tmp_path: Path, fake: FakeEmbedder) -> qa.Index:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    return qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=SETTINGS, label="docs")


def test_sources_and_folders_list_what_is_indexed(index: qa.Index) -> None:
    assert index.sources() == ["a.txt", "sub/b.md", "sub/deep/c.txt", "subway.txt"]
    assert index.folders() == ["sub/", "sub/deep/"]
    assert index.snapshot.sources() == index.sources()


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_one_file_gets_k_hits_though_others_rank_higher(index: qa.Index, retriever: qa.RetrieverName) -> None:
    overall = index.search(QUESTION, k=2, retriever=retriever)
    assert {h.source for h in overall} <= {"a.txt", "subway.txt"}
    # The unfiltered candidate pool holds nothing from sub/b.md: dropping hits afterwards would leave none.
    pool = index.search(QUESTION, k=6, retriever=retriever)
    assert not [h for h in pool if h.source == "sub/b.md"]
    hits = index.search(QUESTION, k=2, retriever=retriever, sources=["sub/b.md"])
    assert len(hits) == 2 and {h.source for h in hits} == {"sub/b.md"}
    assert [h.rank for h in hits] == [1, 2]
    assert [h.citation for h in hits] == [
        h.citation for h in index.search(QUESTION, k=2, retriever=retriever, sources=["./sub/b.md "])
    ]


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_a_folder_holds_its_subfolders_and_not_its_namesakes(index: qa.Index, retriever: qa.RetrieverName) -> None:
    hits = index.search(QUESTION, k=10, retriever=retriever, sources=["sub"])
    assert {h.source for h in hits} == {"sub/b.md", "sub/deep/c.txt"}
    assert [h.citation for h in hits] == [
        h.citation for h in index.search(QUESTION, k=10, retriever=retriever, sources=["sub/"])
    ]
    deep = index.search(QUESTION, k=10, retriever=retriever, sources=["sub/deep/"])
    assert {h.source for h in deep} == {"sub/deep/c.txt"}
    both = index.search(QUESTION, k=30, retriever=retriever, sources=["subway.txt", "sub/deep", "sub/deep/c.txt"])
    assert {h.source for h in both} == {"subway.txt", "sub/deep/c.txt"}


def test_a_filter_takes_the_whole_filtered_set_as_its_pool(index: qa.Index) -> None:
    # Nine passages in sub/ (two titles, seven paragraphs): a larger k gives those nine only.
    hits = index.search(QUESTION, k=50, retriever="dense", sources=["sub"])
    assert len(hits) == 9 and all(h.source.startswith("sub/") for h in hits)


def test_keyword_scores_keep_corpus_wide_statistics(index: qa.Index) -> None:
    everything = {h.citation: h.score for h in index.search(QUESTION, k=len(index), retriever="lexical")}
    filtered = index.search(QUESTION, k=5, retriever="lexical", sources=["sub/b.md"])
    assert filtered and all(h.score == pytest.approx(everything[h.citation]) for h in filtered)


def test_a_path_copied_from_a_citation_is_understood(index: qa.Index) -> None:
    hits = index.search(QUESTION, k=2, sources=["docs/sub/b.md"])
    assert {h.source for h in hits} == {"sub/b.md"}
    assert hits[0].citation.startswith("docs/sub/b.md ")


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (["nope.txt"], "no indexed file or folder matches 'nope.txt'"),
        (["a.txt", "missing/"], "no indexed file or folder matches 'missing/'"),
        (["su"], "no indexed file or folder matches 'su'"),
        (["a.tx"], "no indexed file or folder matches 'a.tx'"),
        ([], "choose at least one file or folder"),
        ([3], "a file or folder must be text, not int"),
        ([None], "a file or folder must be text, not NoneType"),
        (["  "], "names no file or folder"),
        (["./"], "names no file or folder"),
        ("a.txt", "must be a list of files or folders"),
    ],
)
def test_unusable_sources_are_refused(index: qa.Index, sources: object, message: str) -> None:
    with pytest.raises(qa.QueryError, match=re.escape(message)):
        index.search(QUESTION, k=2, sources=sources)  # type: ignore[arg-type]


def test_an_answer_quotes_only_the_chosen_files(index: qa.Index) -> None:
    answer = index.answer(QUESTION, sources=["sub/deep/"])
    assert answer.quotes and {q.source for q in answer.quotes} == {"sub/deep/c.txt"}
    with pytest.raises(qa.QueryError, match="no indexed file or folder"):
        index.answer(QUESTION, sources=["elsewhere"])


def test_a_snapshot_reuses_a_resolved_filter(index: qa.Index) -> None:
    first = index.snapshot.restrict(["sub"])
    assert index.snapshot.restrict(["./sub/"]) is first
    assert first.names == ("sub",) and len(first) == 9
    assert index.snapshot.restrict(["sub/b.md", "sub"]).names == ("sub", "sub/b.md")


def test_filtered_searches_from_several_threads_agree(index: qa.Index) -> None:
    asks = [(retriever, sources) for retriever in RETRIEVERS for sources in (["sub"], ["sub/b.md"], ["a.txt"], None)]

    def run(ask: tuple[qa.RetrieverName, list[str] | None]) -> list[str]:
        return [h.citation for h in index.search(QUESTION, k=3, retriever=ask[0], sources=ask[1])]

    expected = [run(ask) for ask in asks]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(5):
            assert list(pool.map(run, asks)) == expected


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_base_and_delta_are_both_filtered_and_removed_passages_stay_gone(
    tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch, retriever: qa.RetrieverName
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=SETTINGS)
    # Small changes now stay in the delta; the base keeps the old vectors, filtered out.
    monkeypatch.setattr(freeze, "MERGE_MIN", 10_000)
    old = FILES["sub/b.md"].split("\n\n")[1].strip()
    (corpus / "sub/b.md").write_text(FILES["sub/b.md"].replace(old, "Calm meadow without any mountain."))
    write_corpus(corpus, {"sub/deep/new.txt": "Fresh volcano lava eruption notes.\n"})
    (corpus / "sub/deep/c.txt").unlink()
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=SETTINGS)
    assert index.snapshot.base is not None and index.snapshot.meta.base_generation < index.generation
    hits = index.search(QUESTION, k=10, retriever=retriever, sources=["sub"])
    assert hits[0].source == "sub/deep/new.txt"
    assert {h.source for h in hits} == {"sub/b.md", "sub/deep/new.txt"}
    assert all(old not in h.text for h in hits)
    assert index.search(QUESTION, k=2, retriever=retriever, sources=["a.txt"])[0].source == "a.txt"
    with pytest.raises(qa.QueryError, match=re.escape("matches 'sub/deep/c.txt'")):
        index.search(QUESTION, k=2, retriever=retriever, sources=["sub/deep/c.txt"])


@pytest.fixture
def regions(tmp_path: Path) -> Path:
    """Forty articles, half under ``north/``, half under ``south/``."""
    files = {f"{'north' if n < 20 else 'south'}/article_{n}.txt": article(n, 0) for n in range(40)}
    return write_corpus(tmp_path / "regions", files)


def _ivf(regions: Path, folder: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch) -> qa.Index:
    """An index of ``regions`` whose base is an IVF file (200 vectors, 64 lists)."""
    monkeypatch.setattr(vectors_module, "EXACT_MAX", 50)
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    index = qa.build_index(regions, folder, embedder=fake)
    assert index.snapshot.base is not None and index.snapshot.base.kind == "ivf"
    return index


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_an_ivf_base_searched_through_an_allow_list(
    regions: Path, tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch, retriever: qa.RetrieverName
) -> None:
    index = _ivf(regions, tmp_path / "index", fake, monkeypatch)
    # A hundred vectors: more than EXACT_MAX, so the IVF file is probed as usual, skipping others.
    within = index.snapshot.restrict(["south"])
    assert within.base is not None and within.base.params is not None
    assert within.base.params.nprobe < index.snapshot.base._index.nlist  # type: ignore[union-attr]
    question = "bridge7 repainted in town7"
    assert index.search(question, k=1, retriever=retriever)[0].source == "north/article_7.txt"
    hits = index.search(question, k=5, retriever=retriever, sources=["south/"])
    assert len(hits) == 5 and all(h.source.startswith("south/") for h in hits)
    own = index.search("bridge31 repainted in town31", k=3, retriever=retriever, sources=["south"])
    assert own[0].source == "south/article_31.txt"


def test_few_allowed_ivf_vectors_are_scored_exactly(
    regions: Path, tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    flat = qa.build_index(regions, tmp_path / "flat", embedder=fake)
    assert flat.snapshot.base is None or flat.snapshot.base.kind == "flat"
    index = _ivf(regions, tmp_path / "ivf", fake, monkeypatch)
    question = "bridge7 repainted in town7"
    chosen = ["south/article_30.txt", "north/article_12.txt"]

    def scores(of: qa.Index) -> list[tuple[float, str]]:
        # Sorted by score, then key: equal scores may come in either order.
        hits = of.search(question, k=10, retriever="dense", sources=chosen)
        return sorted((-round(h.score, 5), h.passage.key) for h in hits)

    expected = scores(flat)
    assert len(expected) == 10
    # Ten vectors: every IVF list is probed, skipping the ids not allowed.
    within = index.snapshot.restrict(chosen)
    assert within.base is not None and within.base.params is not None
    assert within.base.params.nprobe == index.snapshot.base._index.nlist  # type: ignore[union-attr]
    assert scores(index) == expected
    # Fewer still (here: forced), and the vectors are read back and scored one by one.
    monkeypatch.setattr(vectors_module, "_RECONSTRUCT_COST", 0)
    reopened = qa.load_index(index.folder, embedder=fake)
    within = reopened.snapshot.restrict(chosen)
    assert within.base is not None and within.base.params is None
    assert scores(reopened) == expected


@pytest.mark.model
def test_the_real_model_searches_one_seed_file(seeds_index: qa.Index) -> None:
    questions = [q for q in read_questions(DEV_QUESTIONS) if q.relevant]
    question = questions[0]
    home = next(iter(question.relevant)).split("#")[0]
    other = next(name for name in seeds_index.sources() if name != home)
    assert seeds_index.search(question.text, k=1)[0].source == home
    for retriever in RETRIEVERS:
        hits = seeds_index.search(question.text, k=5, retriever=retriever, sources=[other])
        assert len(hits) == 5 and {h.source for h in hits} == {other}
        assert hits[0].citation.startswith(f"seeds/{other} ")
    inside = seeds_index.search(question.text, k=5, sources=[home])
    assert {h.source for h in inside} == {home} and inside[0].passage.key in question.relevant
    answer = seeds_index.answer(question.text, sources=[f"seeds/{other}"])
    assert {q.source for q in answer.quotes} <= {other}
