"""Ranking passages for a checked request: dense, keyword and fused scores, then duplicates folded."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Protocol

import numpy as np

from ..config import Settings
from ..embed.embedder import Embedder
from ..errors import IndexMismatchError, ModelError, shown
from ..store.bm25 import LexicalIndex
from ..store.filters import SourceFilter
from ..store.snapshot import Candidate
from ..text.terms import tokens
from .duplicates import collapse
from .evidence import evidence_of
from .followup import Where, conversation, is_follow_up
from .fusion import fuse
from .hits import Ranking
from .markers import markers
from .request import Request

#: Share of a file's passages that hold a word for it to be the file's subject ("Isfahan" in the
#: Isfahan article; the title's words are in every passage's keywords).
SUBJECT_SHARE = 0.3


class _Conversation:
    """The corpus as follow-up resolution asks it (:class:`qa.search.followup.Corpus`)."""

    def __init__(self, retriever: Retriever, request: Request) -> None:
        """Answer for ``retriever``, searching as ``request`` does (same retriever and files)."""
        self._retriever = retriever
        self._request = request

    def where(self, words: Sequence[str]) -> dict[str, Where]:
        """Where each word occurs."""
        return self._retriever.where(words)

    def subject(self, searched: str, focus: frozenset[str]) -> str | None:
        """The file of the first passage found for ``searched``."""
        turn = replace(self._request, question=searched, searched=searched, k=1, history=(), focus=focus, ordered_by="")
        hits = self._retriever.rank(turn).hits
        return hits[0].source if hits else None


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


class Store(Protocol):
    """What retrieval reads from an index: a snapshot (see :mod:`qa.store.snapshot`)."""

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

    def check_files(self) -> str | None:
        """Whether the index files changed on disk since they were read (reported once; answers unaffected)."""
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

    def sources_of(self, passage_ids: Sequence[int]) -> dict[int, str]:
        """The file of each passage."""
        ...

    def sizes_of(self, sources: Sequence[str]) -> dict[str, int]:
        """How many passages each file has."""
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

    def embed(self, question: str) -> np.ndarray:
        """The question's vector, checked to be as long as the indexed ones.

        Raises:
            IndexMismatchError: The model gives vectors of another length than the index holds.
            ModelError: The model gives a vector that is not finite.

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

    def resolve(self, request: Request) -> Request:
        """``request`` with its follow-up resolved against the earlier questions (:mod:`qa.search.followup`)."""
        if not request.history or not is_follow_up(request.question):
            return request
        turn = conversation(request.question, request.history, _Conversation(self, request))
        return replace(request, searched=turn.searched, focus=turn.focus, ordered_by=turn.ordered_by)

    def where(self, words: Sequence[str]) -> dict[str, Where]:
        """Where each of ``words`` occurs: the files holding it, and those it is a subject of.

        A word of several terms ("Al-Tamimi") is where its rarest term is; a word that is no
        search term (a stop word) is left out.
        """
        terms = {word: found for word in dict.fromkeys(words) if (found := tokens(word))}
        if not terms or not len(self._store):
            return {}
        # The words as written: the index's tokenizer makes the same terms of them.
        scores = self._store.lexical.scores(" ".join(terms), 1)
        rare = {term.term: term for term in scores.rare}
        held = {int(p) for term in rare.values() for p in term.passage_ids.tolist()}
        files = self._store.sources_of(sorted(held)) if held else {}
        sizes = self._store.sizes_of(sorted(set(files.values()))) if files else {}
        places: dict[str, Where] = {}
        for word, stems in terms.items():
            counts = [scores.frequency.get(stem, 0) for stem in stems]
            # The rarest term that some passage holds speaks for the word.
            stem = min(stems, key=lambda t: scores.frequency.get(t, 0) or len(self._store) + 1)
            term = rare.get(stem)
            if term is None:
                # No passage holds it (an empty set), or too many to list (``None``: everywhere).
                places[word] = Where(None if any(counts) else frozenset())
                continue
            per_file = Counter(files[p] for p in term.passage_ids.tolist() if p in files)
            # A subject is held by a share of its file's passages, and by two of them where it has two.
            subject = frozenset(
                f for f, n in per_file.items() if n >= max(SUBJECT_SHARE * sizes.get(f, 0), min(2, sizes.get(f, 0)))
            )
            shares = {f: per_file[f] / sizes[f] for f in subject if sizes.get(f)}
            places[word] = Where(frozenset(per_file), subject, shares)
        return places

    def _markers_for(
        self, question: str, allowed: np.ndarray | None
    ) -> Callable[[Sequence[int]], dict[int, float]] | None:
        """The share of the question's time and contrast words each passage holds, by their rarity (``None``: none)."""
        marked = markers(question)
        if not marked or self._settings.marker_weight <= 0:
            return None

        def held(passage_ids: Sequence[int]) -> dict[int, float]:
            shares = dict.fromkeys(passage_ids, 0.0)
            for term in marked:
                scores = self._store.lexical.scores(term, 1, within=allowed)
                # Each word by its rarity: IDF as a share of the largest possible in this corpus.
                weight = scores.max_idf / len(marked)
                for pid, score in scores.of(passage_ids).items():
                    shares[pid] += weight * (score > 0)
            return shares

        return held

    def rank(self, request: Request) -> Ranking:
        """Rank passages for ``request.searched`` and collapse near-duplicates (see :meth:`_rank`).

        A follow-up that stays on its file (``request.ordered_by``) is ordered by its own words
        there, and judged by the evidence of what it searched with the carried subject.
        """
        ranking = self._rank(request)
        if not request.ordered_by:
            return ranking
        ordered = self._rank(replace(request, searched=request.ordered_by))
        return Ranking(ordered.hits, ranking.best_cosine, ranking.best_lexical, ranking.evidence)

    def _rank(self, request: Request) -> Ranking:
        """Rank passages for ``request.searched`` and collapse near-duplicates.

        ``request.sources`` limits the search inside it: up to ``k`` hits come from them however
        others score. More than the corpus holds gets all of it.

        Raises:
            QueryError: The sources name no indexed file or folder.
            IndexMismatchError: The model's vectors are not as long as the indexed ones.

        """
        question, mode = request.searched, request.mode
        # A base file changed under a running server is reported (once); the copy read is searched.
        self._store.check_files()
        within = self._store.restrict(request.sources) if request.sources is not None else None  # type: ignore[arg-type]
        allowed = within.passage_ids if within is not None else None
        corpus = len(self._store)
        # Pools are capped by what may match: the whole corpus, or the chosen files.
        size = corpus if within is None else len(within)
        if not size:
            return Ranking((), None, None)
        k = min(request.k, size)
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
            order, fused, sentences = fuse(
                self._settings,
                all_lexical,
                dense,
                lexical,
                dense_for=lambda ids: self._store.dense_for(query[0], ids),
                sentence_for=lambda ids: self._store.sentence_for(query[0], ids),
                markers_for=self._markers_for(question, allowed),
            )
        elif mode == "dense":
            order = sorted(dense, key=lambda p: -dense[p])
            fused = dense
            sentences = self._store.sentence_for(query[0], order[: self._settings.sentence_candidates])
        else:
            order = sorted(lexical, key=lambda p: -lexical[p])
            fused = lexical
        if request.focus:
            # The files a conversation moved to (or stays on) rank first, in their own order.
            files = self._store.sources_of(order)
            order = sorted(order, key=lambda p: files.get(p) not in request.focus)
        hits = collapse(
            order,
            fused,
            dense,
            lexical,
            k,
            candidates=self._store.candidates,
            threshold=self._settings.duplicate_jaccard,
            label=self._label,
        )
        return Ranking(tuple(hits), best_cosine, best_lexical, evidence_of(hits, dense, sentences, all_lexical))
