"""Whether a ranking answers: the calibrated probability against the operating point, or the cosine override."""

from __future__ import annotations

from typing import NamedTuple

from ..config import RetrieverName, Settings
from ..search.hits import Ranking
from .answerability import GENERIC, Answerability, calibration, for_model

#: Fewest content words a question needs for an answer without the weak-match caveat.
MIN_CONFIDENT_TERMS = 2


class Decision(NamedTuple):
    """What the bot makes of a ranking.

    Attributes:
        found: The best passage answers (else the bot abstains).
        weak: Found, but below the confident level: the answer says to check the quotes.
        confidence: The answerability probability (``None`` without evidence to judge).

    """

    found: bool
    weak: bool
    confidence: float | None


def model_for(settings: Settings, mode: RetrieverName, *, sentences: bool) -> Answerability:
    """The calibration in force for ``mode``.

    The one fitted for the model (and for an index with or without sentence vectors); the
    generic one (keyword features only) for another model and for the lexical retriever.
    """
    if mode == "lexical":
        return calibration(GENERIC)
    return for_model(settings.model, sentences=sentences)


def decide(ranking: Ranking, *, settings: Settings, mode: RetrieverName, model: Answerability) -> Decision:
    """Whether ``ranking`` answers, how surely, and with what probability.

    With ``settings.threshold`` set, the best cosine decides instead of the model (an expert
    override); the probability is still given. A question of one content word names a
    topic, not a question: whatever matches it is at most a weak match.
    """
    evidence = ranking.evidence
    confidence = model.probability(evidence) if evidence is not None and model.usable(evidence) else None
    if settings.threshold is not None and mode != "lexical":
        cosine = ranking.best_cosine
        found = cosine is not None and cosine >= settings.threshold
        level = settings.threshold if settings.confident is None else max(settings.confident, settings.threshold)
        weak = cosine is not None and cosine < level
    elif confidence is None:
        return Decision(False, False, None)
    else:
        floor = settings.min_confidence if settings.min_confidence is not None else model.abstain_below
        level = settings.confident_confidence if settings.confident_confidence is not None else model.confident_above
        found = confidence >= floor
        weak = confidence < max(level, floor)
    if evidence is not None and evidence.terms < MIN_CONFIDENT_TERMS:
        weak = True
    return Decision(found, found and weak, confidence)


def describe(settings: Settings, mode: RetrieverName, model: Answerability, index_model: str) -> str:
    """How abstention is decided, in one line for people (``qa eval`` prints it)."""
    if settings.threshold is not None and mode != "lexical":
        return f"abstains when the best cosine is under {settings.threshold:g} (--threshold override)"
    floor = settings.min_confidence if settings.min_confidence is not None else model.abstain_below
    level = settings.confident_confidence if settings.confident_confidence is not None else model.confident_above
    if model.name != GENERIC:
        which = f"calibration for {model.name}"
    elif mode == "lexical":
        which = "generic calibration: keyword features, as the lexical retriever has no cosines"
    else:
        which = f"generic calibration: keyword features; none fitted for {index_model}"
    return f"abstains when P(answerable) < {floor:g}, weak match under {max(level, floor):g} ({which})"
