"""Ranking passages for a question: dense, lexical and fused scores, and duplicate collapse."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .config import RETRIEVERS, RetrieverName, Settings
from .documents import Passage
from .duplicates import similarities
from .embedding import Embedder
from .errors import IndexMismatchError, ModelError, QueryError, shown
from .lexical import LexicalIndex, LexicalScores

if TYPE_CHECKING:
    from .snapshot import Candidate, SourceFilter

#: Vector cosine above which two paragraphs are compared word by word for duplication.
_TWIN_COSINE = 0.9
#: Leading hits whose keyword evidence counts for abstention (the best of them).
EVIDENCE_HITS = 3


@dataclass(frozen=True)
class Hit:
    """One ranked passage.

    Attributes:
        passage: The cited paragraph.
        score: The score the ranking used (cosine, BM25 or fused, by retriever).
        rank: 1-based position in the ranking.
        citation: Where to find it, e.g. ``seeds/a.txt ¶4 (line 4)``.
        dense_score: Best cosine of the passage's windows with the question, if computed.
        lexical_score: BM25 score of the passage, if computed.
        also_in: Citations of near-identical passages folded into this one.
        duplicates: The near-identical passages themselves.

    """

    passage: Passage
    score: float
    rank: int
    citation: str
    dense_score: float | None = None
    lexical_score: float | None = None
    also_in: tuple[str, ...] = ()
    duplicates: tuple[Passage, ...] = field(default=(), repr=False)
    passage_id: int = field(default=-1, repr=False, compare=False)

    @property
    def source(self) -> str:
        """File path relative to the corpus folder."""
        return self.passage.source

    @property
    def paragraph(self) -> int:
        """1-based paragraph number within the file."""
        return self.passage.paragraph

    @property
    def start_line(self) -> int:
        """1-based first line."""
        return self.passage.start_line

    @property
    def end_line(self) -> int:
        """1-based last line (inclusive)."""
        return self.passage.end_line

    @property
    def start_char(self) -> int:
        """Offset of the first character in the file's text."""
        return self.passage.start_char

    @property
    def end_char(self) -> int:
        """Offset just past the last character."""
        return self.passage.end_char

    @property
    def text(self) -> str:
        """The paragraph, verbatim."""
        return self.passage.text


@dataclass(frozen=True)
class Evidence:
    """What the answerability model reads to decide whether the best passage answers.

    Attributes:
        best_cosine: Highest cosine between the question and any passage (``None`` when
            no vector search ran: the lexical retriever).
        margin: ``best_cosine`` minus the next-best passage's cosine (``None`` as above,
            0 with a single passage).
        sentence_cosine: Highest cosine between the question and one sentence of the
            leading passages (their paragraph cosine where a passage has one sentence).
        lexical: The best BM25 score of the leading hits (:data:`EVIDENCE_HITS`) as a share
            of the question's attainable maximum.
        coverage: The largest share of the question's squared-IDF mass (rare words weigh
            most) whose terms one of the leading hits holds.
        max_idf: How rare the question's rarest term is (1: it occurs nowhere).
        terms: Distinct content words (stemmed, stop words left out) in the question.

    """

    best_cosine: float | None
    margin: float | None
    sentence_cosine: float | None
    lexical: float
    coverage: float
    max_idf: float
    terms: int


@dataclass(frozen=True)
class Ranking:
    """Ranked hits and the evidence used to decide whether to abstain.

    Attributes:
        hits: Best first, near-duplicates collapsed.
        best_cosine: Highest cosine between the question and any passage (``None`` if
            the dense retriever did not run).
        best_lexical: Highest BM25 score (``None`` if the lexical retriever did not run).
        evidence: The answerability features (``None`` when nothing could be searched).

    """

    hits: tuple[Hit, ...]
    best_cosine: float | None
    best_lexical: float | None
    evidence: Evidence | None = None


#: Passages from which hybrid search runs its two halves on two threads (benchmarks/scale.py:
#: it pays at 10^6 paragraphs, where each half takes milliseconds, and costs at 10^5).
OVERLAP_FROM = 300_000

_WORKER: ThreadPoolExecutor | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    """The process's small pool for the keyword half of hybrid searches, made on first use."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-keywords")
        return _WORKER


#: Characters that would break a citation's one line or drive a terminal (C0, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    """A control character written as a backslash, x and two hex digits."""
    return f"\\x{ord(match[0]):02x}"


def check_text(text: object, what: str = "the question") -> str:
    """``text`` if it is a string of real characters, else :class:`QueryError`.

    Lone surrogates (broken Unicode from a bad decoder or a hostile client) are refused:
    no tokenizer or database takes them.
    """
    if not isinstance(text, str):
        raise QueryError(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryError(f"{what} holds characters that are not text (broken Unicode)") from exc
    return text


def check_question(question: object, limit: int) -> str:
    """The stripped question, or :class:`QueryError` if it is not text, empty or over ``limit`` characters.

    The one check of every way in: the Python API, the CLI, the chat and the HTTP endpoint.
    """
    stripped = check_text(question).strip()
    if not stripped:
        raise QueryError("the question is empty: type a question about the articles")
    if len(stripped) > limit:
        raise QueryError(f"the question is {len(stripped)} characters long; the limit is {limit}")
    return stripped


def citation(label: str, passage: Passage) -> str:
    """Format ``label/source ¶N (line L)`` for a passage (pages and sections as :attr:`Passage.place` says).

    Control characters in a file name (a newline, an escape) are written as hex escapes, so
    that a citation is always one line of plain text; ``source`` keeps the real name.
    """
    path = f"{label.rstrip('/')}/{passage.source}" if label else passage.source
    return _CONTROL.sub(_escaped, f"{path} {passage.place}")


def _evidence(
    hits: Sequence[Hit], dense: dict[int, float], sentences: dict[int, float], lexical: LexicalScores
) -> Evidence | None:
    """The answerability features of a ranking (see :class:`Evidence`); ``None`` without hits."""
    if not hits:
        return None
    cosines = sorted(dense.values(), reverse=True)
    best = cosines[0] if cosines else None
    # The margin is to the next *distinct* passage: copies folded into a hit do not count.
    distinct = sorted((h.dense_score for h in hits if h.dense_score is not None), reverse=True)
    if len(distinct) < 2:
        # A single hit asked for: the next passage's cosine is the best available.
        distinct = cosines
    margin = (distinct[0] - distinct[1] if len(distinct) > 1 else 0.0) if cosines else None
    sentence = max([*sentences.values(), *cosines[:1]], default=None)
    # The leading hits are what an answer shows first: the best of them speaks for the ranking.
    leading = [hit.passage_id for hit in hits[:EVIDENCE_HITS]]
    scores = lexical.of(leading) if lexical.attainable > 0 else {}
    covered = lexical.coverage(leading)
    return Evidence(
        best_cosine=best,
        margin=margin,
        sentence_cosine=sentence,
        lexical=min(1.0, max(scores.values()) / lexical.attainable) if scores else 0.0,
        coverage=max(covered.values(), default=0.0),
        max_idf=lexical.max_idf,
        terms=lexical.terms,
    )


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale ``values`` to [0, 1]; a constant array maps to zeros."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)


class Store(Protocol):
    """What retrieval reads from an index: a snapshot (see :mod:`qa.snapshot`)."""

    lexical: LexicalIndex

    def __len__(self) -> int:
        """Passages indexed."""
        ...

    @property
    def dimension(self) -> int:
        """Length of the stored vectors."""
        ...

    def dense_top(self, query: np.ndarray, windows: int, *, within: SourceFilter | None = None) -> dict[int, float]:
        """Best cosine per passage among the best-matching vectors (of ``within``'s passages)."""
        ...

    def restrict(self, sources: Iterable[str]) -> SourceFilter:
        """The passages and vectors of the chosen files and folders (raises :class:`QueryError`)."""
        ...

    def dense_for(self, query: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Exact best-window cosine with each passage."""
        ...

    def candidates(self, passage_ids: Sequence[int]) -> dict[int, Candidate]:
        """Passages with their first window's vector and duplicate signature."""
        ...

    def sentence_for(self, query: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Best sentence cosine of each passage that has sentences stored."""
        ...


class Retriever:
    """Scores passages for a question with dense, lexical or hybrid retrieval."""

    def __init__(
        self,
        store: Store,
        *,
        embedder: Callable[[], Embedder],
        settings: Settings,
        label: str,
    ) -> None:
        """Assemble a retriever over an index snapshot.

        Args:
            store: The snapshot to search.
            embedder: Returns the embedding model (called lazily, on first dense search).
            settings: Retrieval settings.
            label: Corpus folder name used in citations.

        """
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._label = label

    @property
    def settings(self) -> Settings:
        """The settings in force."""
        return self._settings

    def check_question(self, question: object) -> str:
        """Return the stripped question, or raise :class:`QueryError` if unusable (see :func:`check_question`)."""
        return check_question(question, self._settings.max_question_chars)

    def mode(self, retriever: object = None) -> RetrieverName:
        """The retriever to use: ``retriever`` if given (checked), else the configured one.

        Raises:
            QueryError: ``retriever`` is not one of :data:`~qa.config.RETRIEVERS`.

        """
        if retriever is None:
            return self._settings.retriever
        for name in RETRIEVERS:
            if isinstance(retriever, str) and retriever == name:
                return name
        raise QueryError(f"unknown retriever {shown(retriever)}: choose one of {', '.join(RETRIEVERS)}")

    def embed(self, question: str) -> np.ndarray:
        """The question's vector, checked to be as long as the indexed ones.

        Raises:
            IndexMismatchError: The model gives vectors of another length than the index holds.

        """
        embedder = self._embedder()
        query = np.asarray(embedder.encode([question]), dtype=np.float32)
        if query.size and not np.isfinite(query).all():
            raise ModelError(f"the model {embedder.name!r} gave a vector that is not finite for this question")
        expected = self._store.dimension
        if query.ndim != 2 or query.shape != (1, expected):
            got = query.shape[-1] if query.ndim == 2 else shown(query.shape)
            raise IndexMismatchError(
                f"the model {embedder.name!r} gives vectors of {got} dimensions but the index holds vectors of "
                f"{expected}; rebuild the index with this model (`qa index`) or use the model it was built with"
            )
        return query

    def rank(
        self,
        question: str,
        k: int,
        *,
        retriever: RetrieverName | None = None,
        sources: Sequence[str] | None = None,
    ) -> Ranking:
        """Rank passages for ``question`` and collapse near-duplicates.

        Args:
            question: The question (checked with :meth:`check_question`).
            k: Hits wanted (after duplicates are collapsed).
            retriever: Overrides the configured retriever.
            sources: Search only these files and folders (relative to the corpus folder,
                e.g. ``["a.txt", "sub/"]``); ``None`` searches everything. The limit applies
                inside the search: up to ``k`` hits come from them however others score.

        Raises:
            QueryError: Bad question, ``k``, retriever name or sources.
            IndexMismatchError: The model's vectors are not as long as the indexed ones.

        """
        question = self.check_question(question)
        mode = self.mode(retriever)
        # Any whole number of at least 1 will do (numpy's too); more than the corpus holds gets all of it.
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise QueryError(f"k must be a whole number of at least 1, got {shown(k)}")
        k = int(k)
        within = self._store.restrict(sources) if sources is not None else None
        allowed = within.passage_ids if within is not None else None
        corpus = len(self._store)
        # Pools are capped by what may match: the whole corpus, or the chosen files.
        size = corpus if within is None else len(within)
        if not size:
            return Ranking((), None, None)
        k = min(k, size)
        pool = min(size, max(self._settings.candidates, k * 3))
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        best_cosine: float | None = None
        best_lexical: float | None = None
        query = np.zeros((1, 0), dtype=np.float32)
        # In hybrid mode over a large index the keyword half runs on a second thread while the
        # question is embedded and the vectors searched; below that, the hand-off costs more.
        # The corpus decides, filtered or not: keyword scoring reads all postings of the terms.
        overlap = mode == "hybrid" and corpus >= OVERLAP_FROM
        pending = _worker().submit(self._store.lexical.scores, question, pool, within=allowed) if overlap else None
        try:
            if mode in ("dense", "hybrid"):
                query = self.embed(question)
                dense = self._store.dense_top(query[0], pool * 2, within=within)
                best_cosine = max(dense.values()) if dense else None
        finally:
            # Never leave the keyword half running against a snapshot its caller may drop.
            if pending is not None:
                wait([pending])
        # Keyword statistics are evidence for abstention in every mode (dense too: they cost ~1 ms).
        if pending is not None:
            all_lexical = pending.result()
        else:
            all_lexical = self._store.lexical.scores(question, pool if mode != "dense" else 1, within=allowed)
        if mode in ("lexical", "hybrid"):
            ids, scores = all_lexical.top(pool)
            lexical = {int(p): float(s) for p, s in zip(ids.tolist(), scores.tolist(), strict=True)}
            best_lexical = float(scores[0]) if len(scores) else 0.0
        sentences: dict[int, float] = {}
        if mode == "hybrid":
            order, fused, sentences = self._fuse(all_lexical, query, dense, lexical)
        elif mode == "dense":
            order = sorted(dense, key=lambda p: -dense[p])
            fused = dense
            sentences = self._store.sentence_for(query[0], order[: self._settings.sentence_candidates])
        else:
            order = sorted(lexical, key=lambda p: -lexical[p])
            fused = lexical
        hits = self._collapse(order, fused, dense, lexical, k)
        evidence = _evidence(hits, dense, sentences, all_lexical)
        return Ranking(tuple(hits), best_cosine, best_lexical, evidence)

    def _fuse(
        self,
        all_lexical: LexicalScores,
        query: np.ndarray,
        dense: dict[int, float],
        lexical: dict[int, float],
    ) -> tuple[list[int], dict[int, float], dict[int, float]]:
        """Merge dense and lexical candidates into one ordering with fused scores.

        Returns:
            The order, the fused scores and the best sentence cosine of the leading
            passages that have sentences stored.

        """
        settings = self._settings
        if settings.fusion == "rrf":
            fused: dict[int, float] = {}
            for ranking in (sorted(dense, key=lambda p: -dense[p]), sorted(lexical, key=lambda p: -lexical[p])):
                for position, pid in enumerate(ranking, start=1):
                    fused[pid] = fused.get(pid, 0.0) + 1.0 / (settings.rrf_k + position)
            return sorted(fused, key=lambda p: -fused[p]), fused, {}
        # Score every candidate on both scales, so that no score is guessed.
        ids = sorted(set(dense) | set(lexical))
        missing_dense = [p for p in ids if p not in dense]
        if missing_dense:
            dense.update(self._store.dense_for(query[0], missing_dense))
        missing_lexical = [p for p in ids if p not in lexical]
        if missing_lexical:
            lexical.update(all_lexical.of(missing_lexical))
        dense_values = np.array([dense.get(p, -1.0) for p in ids])
        lexical_values = np.array([lexical[p] for p in ids], dtype=np.float64)
        dense_part, lexical_part = minmax(dense_values), minmax(lexical_values)
        combined = settings.dense_weight * dense_part + (1 - settings.dense_weight) * lexical_part
        sentences: dict[int, float] = {}
        if settings.sentence_share > 0 or settings.coverage_weight > 0:
            # Second stage: the leading candidates are scored by their best sentence too (a
            # passage that answers in one sentence among unrelated ones), the others by their
            # paragraph cosine in that place; every candidate gains its share of the question's
            # rare words, so that a passage holding them is not buried by topical similarity.
            leading = np.argsort(-combined, kind="stable")[: settings.sentence_candidates]
            sentences = self._store.sentence_for(query[0], [ids[i] for i in leading.tolist()])
            # A passage's sentence score is never under its paragraph's: an answer spread over
            # several sentences must not lose to one that fits in one.
            sentence_values = np.array([max(sentences.get(p, -1.0), dense.get(p, -1.0)) for p in ids])
            covered = all_lexical.coverage(ids)
            share = settings.sentence_share
            combined = (
                settings.dense_weight * ((1 - share) * dense_part + share * minmax(sentence_values))
                + (1 - settings.dense_weight) * lexical_part
                + settings.coverage_weight * np.array([covered[p] for p in ids])
            )
        scores = {int(p): float(s) for p, s in zip(ids, combined.tolist(), strict=True)}
        return sorted(scores, key=lambda p: (-scores[p], -dense.get(p, -1.0), p)), scores, sentences

    def _collapse(
        self,
        order: Sequence[int],
        scores: dict[int, float],
        dense: dict[int, float],
        lexical: dict[int, float],
        k: int,
    ) -> list[Hit]:
        """Walk the ranking, folding near-duplicates into the first copy, until ``k`` hits.

        A candidate is a twin of a kept hit when their vectors are close (cosine at least
        0.9) and their word trigrams overlap (MinHash estimate of Jaccard similarity at
        least ``duplicate_jaccard``). Both tests are computed for a whole block of
        candidates at once, recording for each candidate the first kept hit it is a twin of.
        """
        threshold = self._settings.duplicate_jaccard
        row_of: dict[int, int] = {}
        passages: list[Passage] = []
        vectors: list[np.ndarray] = []
        sketches: list[np.ndarray] = []
        kept: list[int] = []
        kept_rows: list[int] = []
        folded: dict[int, list[int]] = {}
        by_hash: dict[str, int] = {}
        # For each candidate read so far, the first kept hit it is a twin of (-1: none).
        first_twin = np.zeros(0, dtype=np.int64)
        all_v = np.zeros((0, 0), dtype=np.float32)
        all_s = np.zeros((0, 0), dtype=np.uint32)
        fetched = 0

        def twins_with(rows_v: np.ndarray, rows_s: np.ndarray, row: int) -> np.ndarray:
            """Which of these candidates are twins of the candidate at ``row``."""
            close = rows_v @ vectors[row] >= _TWIN_COSINE
            similar = similarities(rows_s, sketches[row]) >= threshold
            result: np.ndarray = close & similar
            return result

        def fetch(upto: int) -> None:
            # Candidates are read in growing blocks, only as far as the walk goes.
            nonlocal fetched, first_twin, all_v, all_s
            block = list(order[fetched:upto])
            fetched = max(fetched, upto)
            found = self._store.candidates(block) if block else {}
            start = len(passages)
            for pid in block:
                if pid in found:
                    row_of[pid] = len(passages)
                    passages.append(found[pid].passage)
                    vectors.append(found[pid].vector)
                    sketches.append(np.frombuffer(found[pid].signature, dtype=np.uint32))
            if len(passages) == start:
                return
            new = np.full(len(passages) - start, -1, dtype=np.int64)
            block_v, block_s = np.stack(vectors[start:]), np.stack(sketches[start:])
            for column, row in enumerate(kept_rows):
                new[(new < 0) & twins_with(block_v, block_s, row)] = column
            first_twin = np.concatenate([first_twin, new])
            all_v = block_v if not start else np.concatenate([all_v, block_v])
            all_s = block_s if not start else np.concatenate([all_s, block_s])

        fetch(3 * k + 10)
        horizon: int | None = None
        for position, pid in enumerate(order):
            if horizon is not None and position >= horizon:
                break
            if position >= fetched:
                fetch(2 * fetched)
            row = row_of.get(pid)
            if row is None:
                continue
            twin = by_hash.get(passages[row].sha256)
            if twin is None and first_twin[row] >= 0:
                twin = kept[int(first_twin[row])]
            if twin is not None:
                folded[twin].append(pid)
            elif len(kept) < k:
                # A new kept hit: candidates read so far that are its twins (and no earlier hit's).
                first_twin[(first_twin < 0) & twins_with(all_v, all_s, row)] = len(kept)
                kept.append(pid)
                kept_rows.append(row)
                by_hash[passages[row].sha256] = pid
                folded[pid] = []
                if len(kept) == k:
                    horizon = position + 1 + 2 * k
        hits: list[Hit] = []
        for rank, pid in enumerate(kept, start=1):
            passage = passages[row_of[pid]]
            twins = tuple(passages[row_of[t]] for t in folded[pid])
            hits.append(
                Hit(
                    passage=passage,
                    score=scores[pid],
                    rank=rank,
                    citation=citation(self._label, passage),
                    dense_score=dense.get(pid),
                    lexical_score=lexical.get(pid),
                    also_in=tuple(citation(self._label, t) for t in twins),
                    duplicates=twins,
                    passage_id=pid,
                )
            )
        return hits
