"""Whether the best passage answers the question: a small logistic model over retrieval evidence.

The model is a logistic regression over a handful of features of a ranking (best cosine,
its margin to the next passage, the best sentence's cosine, BM25 as a share of what the
question could score, the share of the question's rare words the top passage holds, how
rare the rarest word is, and how many content words the question has). Its coefficients
are stored as JSON per embedding model under ``qa/answer/calibration/`` and fitted by
``benchmarks/answerability.py``; a model without a file of its own uses ``generic.json``,
fitted on the features that do not depend on the embedding model. No pickle is read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..config import canonical_model_name
from ..errors import SettingsError
from ..search.hits import Evidence

#: Every feature a calibration may use, in the order :func:`features` gives them.
FEATURES = (
    "best_cosine",
    "margin",
    "sentence_cosine",
    "lexical",
    "coverage",
    "max_idf",
    "terms",
    "standout",
    "agreement",
)
#: Features that do not depend on the embedding model (the generic calibration's).
GENERIC_FEATURES = ("lexical", "coverage", "max_idf", "terms")
GENERIC = "generic"
#: Suffix of the calibration of a model for indexes built without sentence vectors.
NO_SENTENCES = ".no-sentences"
#: The features of that calibration: the best sentence cosine would only repeat the best cosine.
NO_SENTENCE_FEATURES = tuple(f for f in FEATURES if f != "sentence_cosine")
_PACKAGE = "qa.answer.calibration"


@dataclass(frozen=True)
class Answerability:
    """A calibrated answer/abstain model: ``P(answerable) = sigmoid(intercept + Σ wᵢ·(xᵢ − meanᵢ)/scaleᵢ)``.

    Attributes:
        name: The embedding model it was fitted for, or ``generic``.
        features: The feature names it reads (a subset of :data:`FEATURES`).
        coefficients: One weight per feature (on standardised values).
        mean: Each feature's mean in the fitting data.
        scale: Each feature's standard deviation in the fitting data.
        intercept: The bias term.
        abstain_below: Probability under which the bot abstains (the operating point).
        confident_above: Probability above which an answer carries no weak-match caveat.
        fitted_on: Where the coefficients come from, for people.

    """

    name: str
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    intercept: float
    abstain_below: float
    confident_above: float
    fitted_on: str = ""

    @classmethod
    def from_dict(cls, data: object) -> Answerability:
        """Read a calibration from parsed JSON, checking every field.

        Raises:
            SettingsError: A field is missing, of the wrong type or inconsistent.

        """
        if not isinstance(data, dict):
            raise SettingsError("an answerability calibration must be a JSON object")
        try:
            features = tuple(str(f) for f in data["features"])
            unknown = [f for f in features if f not in FEATURES]
            if unknown or not features:
                raise SettingsError(f"unknown answerability features: {', '.join(unknown) or 'none given'}")
            numbers = {key: tuple(float(v) for v in data[key]) for key in ("coefficients", "mean", "scale")}
            if any(len(values) != len(features) for values in numbers.values()):
                raise SettingsError("an answerability calibration needs one coefficient, mean and scale per feature")
            model = cls(
                name=str(data["name"]),
                features=features,
                coefficients=numbers["coefficients"],
                mean=numbers["mean"],
                scale=numbers["scale"],
                intercept=float(data["intercept"]),
                abstain_below=float(data["abstain_below"]),
                confident_above=float(data["confident_above"]),
                fitted_on=str(data.get("fitted_on", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"malformed answerability calibration ({type(exc).__name__}: {exc})") from exc
        values = [*model.coefficients, *model.mean, *model.scale, model.intercept]
        if not all(math.isfinite(v) for v in values) or any(s <= 0 for s in model.scale):
            raise SettingsError("an answerability calibration holds a non-finite number or a scale of 0")
        if not 0 <= model.abstain_below <= model.confident_above <= 1:
            raise SettingsError("an answerability calibration needs 0 <= abstain_below <= confident_above <= 1")
        return model

    def to_dict(self) -> dict[str, Any]:
        """The calibration as JSON-ready data (what :meth:`from_dict` reads)."""
        return {
            "name": self.name,
            "features": list(self.features),
            "coefficients": list(self.coefficients),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "intercept": self.intercept,
            "abstain_below": self.abstain_below,
            "confident_above": self.confident_above,
            "fitted_on": self.fitted_on,
        }

    def usable(self, evidence: Evidence) -> bool:
        """Whether ``evidence`` has every feature this model reads (no cosine without vector search)."""
        row = features(evidence)
        return all(row[name] is not None for name in self.features)

    def probability(self, evidence: Evidence) -> float:
        """The probability that the ranking's best passage answers the question.

        Raises:
            ValueError: ``evidence`` lacks a feature the model reads (see :meth:`usable`).

        """
        row = features(evidence)
        total = self.intercept
        for name, weight, mean, scale in zip(self.features, self.coefficients, self.mean, self.scale, strict=True):
            value = row[name]
            if value is None:
                raise ValueError(f"the evidence has no {name}")
            total += weight * (value - mean) / scale
        # The logistic function, written to overflow in neither direction.
        if total >= 0:
            return 1.0 / (1.0 + math.exp(-total))
        odds = math.exp(total)
        return odds / (1.0 + odds)


def features(evidence: Evidence) -> dict[str, float | None]:
    """The named feature values of ``evidence`` (``None`` where it has none, e.g. cosines)."""
    return {
        "best_cosine": evidence.best_cosine,
        "margin": evidence.margin,
        "sentence_cosine": evidence.sentence_cosine,
        "lexical": evidence.lexical,
        "coverage": evidence.coverage,
        "max_idf": evidence.max_idf,
        # Question length on a log scale: the step from 1 to 3 words matters, from 12 to 14 not.
        "terms": math.log1p(evidence.terms),
        "standout": evidence.standout,
        "agreement": evidence.agreement,
    }


@lru_cache(maxsize=16)
def calibration(name: str) -> Answerability:
    """The packaged calibration called ``name`` (a model's canonical name, or ``generic``).

    Raises:
        SettingsError: There is none, or it is malformed.

    """
    file = resources.files(_PACKAGE).joinpath(f"{file_stem(name)}.json")
    try:
        text = file.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise SettingsError(f"no answerability calibration for {name!r}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"the answerability calibration for {name!r} is not JSON ({exc})") from exc
    return Answerability.from_dict(data)


def for_model(model: str, *, sentences: bool = True) -> Answerability:
    """The calibration fitted for ``model`` (and for an index with or without sentence vectors), else the generic one.

    Only a missing file falls back; a malformed one raises, so that a damaged calibration
    is never silently replaced by a weaker one.

    Raises:
        SettingsError: The model's calibration file exists but is malformed.

    """
    name = canonical_model_name(model)
    for candidate in [name] if sentences else [f"{name}{NO_SENTENCES}", name]:
        if resources.files(_PACKAGE).joinpath(f"{file_stem(candidate)}.json").is_file():
            return calibration(candidate)
    return calibration(GENERIC)


def file_stem(name: str) -> str:
    """A file name for a model name (paths and odd characters become ``_``)."""
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name).strip("._") or GENERIC
