"""Whether a ranking answers (qa.answer.decision): the operating point, the weak level, the cosine override."""

from __future__ import annotations

import math

import pytest

from qa.answer.answerability import GENERIC, Answerability
from qa.answer.decision import MIN_CONFIDENT_TERMS, Decision, decide, describe, model_for
from qa.config import RetrieverName, Settings
from qa.search.hits import Evidence, Ranking


def toy(*, abstain_below: float = 0.4, confident_above: float = 0.7, name: str = "toy") -> Answerability:
    """A calibration whose probability is the logistic of the ``lexical`` feature alone."""
    return Answerability(
        name=name,
        features=("lexical",),
        coefficients=(1.0,),
        mean=(0.0,),
        scale=(1.0,),
        intercept=0.0,
        abstain_below=abstain_below,
        confident_above=confident_above,
    )


def evidence(probability: float = 0.5, *, terms: int = 5, best_cosine: float | None = 0.5) -> Evidence:
    """Evidence to which :func:`toy` gives ``probability`` (0.5 exactly: a logit of 0)."""
    logit = 0.0 if probability == 0.5 else math.log(probability / (1 - probability))
    return Evidence(
        best_cosine=best_cosine,
        margin=0.1 if best_cosine is not None else None,
        sentence_cosine=best_cosine,
        lexical=logit,
        coverage=0.5,
        max_idf=0.5,
        terms=terms,
    )


def ranking(found: Evidence | None, best_cosine: float | None = 0.5) -> Ranking:
    return Ranking(hits=(), best_cosine=best_cosine, best_lexical=None, evidence=found)


def run(
    found: Evidence | None,
    *,
    settings: Settings | None = None,
    model: Answerability | None = None,
    mode: RetrieverName = "hybrid",
    best_cosine: float | None = 0.5,
) -> Decision:
    return decide(ranking(found, best_cosine), settings=settings or Settings(), mode=mode, model=model or toy())


# -- which calibration ----------------------------------------------------------------------


def test_the_lexical_retriever_uses_the_generic_calibration_even_for_a_calibrated_model() -> None:
    settings = Settings()
    assert model_for(settings, "lexical", sentences=True).name == GENERIC
    assert model_for(settings, "dense", sentences=True).name == settings.model
    assert model_for(settings, "hybrid", sentences=True).name == settings.model


def test_an_index_without_sentence_vectors_gets_its_own_calibration_and_an_unknown_model_the_generic() -> None:
    assert model_for(Settings(), "hybrid", sentences=False).name == f"{Settings().model}.no-sentences"
    assert model_for(Settings(model="someone/unfitted-model"), "dense", sentences=True).name == GENERIC


# -- the calibrated model decides -----------------------------------------------------------


def test_a_probability_at_the_operating_point_answers_and_one_just_under_abstains() -> None:
    model = toy(abstain_below=0.5, confident_above=0.9)
    assert run(evidence(0.5), model=model).found
    just_under = Evidence(0.5, 0.1, 0.5, -1e-9, 0.5, 0.5, 5)
    assert not run(just_under, model=model).found


def test_an_answer_under_the_confident_level_is_weak_and_one_at_or_above_it_is_not() -> None:
    assert run(evidence(0.55)) == Decision(True, True, pytest.approx(0.55))
    assert run(evidence(0.8)) == Decision(True, False, pytest.approx(0.8))
    at_level = toy(abstain_below=0.2, confident_above=0.5)
    assert run(evidence(0.5), model=at_level) == Decision(True, False, 0.5)


def test_an_abstention_is_never_weak_and_still_reports_the_probability() -> None:
    found = evidence(0.1)
    decision = run(found)
    assert not decision.found and not decision.weak
    assert decision.confidence == pytest.approx(toy().probability(found)) == pytest.approx(0.1)


def test_settings_override_the_calibrations_operating_points() -> None:
    settings = Settings(min_confidence=0.6, confident_confidence=0.9)
    # The calibration alone (0.4 and 0.7) would answer 0.5 and be sure of 0.8.
    assert run(evidence(0.5)).found and not run(evidence(0.5), settings=settings).found
    assert run(evidence(0.8), settings=settings) == Decision(True, True, pytest.approx(0.8))
    assert run(evidence(0.95), settings=settings) == Decision(True, False, pytest.approx(0.95))


def test_a_confident_level_under_the_floor_makes_every_answer_confident() -> None:
    settings = Settings(min_confidence=0.6, confident_confidence=0.3)
    assert run(evidence(0.65), settings=settings) == Decision(True, False, pytest.approx(0.65))
    assert not run(evidence(0.55), settings=settings).found


@pytest.mark.parametrize("terms", [0, MIN_CONFIDENT_TERMS - 1])
def test_a_question_of_fewer_than_two_content_words_is_at_most_a_weak_match(terms: int) -> None:
    assert run(evidence(0.99, terms=terms)) == Decision(True, True, pytest.approx(0.99))
    assert run(evidence(0.99, terms=MIN_CONFIDENT_TERMS)) == Decision(True, False, pytest.approx(0.99))
    # A topic word that matches nothing still abstains: weak is only ever said of an answer.
    assert run(evidence(0.1, terms=terms)) == Decision(False, False, pytest.approx(0.1))


def test_without_evidence_the_bot_abstains_with_no_confidence() -> None:
    assert run(None) == Decision(False, False, None)


def test_evidence_lacking_a_feature_the_model_reads_abstains_with_no_confidence() -> None:
    cosine_model = Answerability("cosine", ("best_cosine",), (1.0,), (0.0,), (1.0,), 0.0, 0.1, 0.2)
    # The lexical retriever gives no cosine: the model cannot judge, so nothing is claimed.
    assert run(evidence(0.9, best_cosine=None), model=cosine_model, best_cosine=None) == Decision(False, False, None)


# -- the cosine threshold overrides the model -----------------------------------------------


def test_the_cosine_threshold_decides_instead_of_the_model_and_keeps_its_probability() -> None:
    settings = Settings(threshold=0.5)
    at = run(evidence(0.01), settings=settings, best_cosine=0.5)
    assert at == Decision(True, False, pytest.approx(0.01))
    under = run(evidence(0.99), settings=settings, best_cosine=0.49)
    assert under == Decision(False, False, pytest.approx(0.99))


def test_under_the_threshold_the_confident_cosine_sets_the_weak_level() -> None:
    with_level = Settings(threshold=0.3, confident=0.6)
    assert run(evidence(), settings=with_level, best_cosine=0.5) == Decision(True, True, 0.5)
    assert run(evidence(), settings=with_level, best_cosine=0.6) == Decision(True, False, 0.5)
    # Without a confident level, or one under the threshold, whatever clears the threshold is confident.
    assert run(evidence(), settings=Settings(threshold=0.3), best_cosine=0.31).weak is False
    assert run(evidence(), settings=Settings(threshold=0.5, confident=0.2), best_cosine=0.5).weak is False


def test_the_threshold_override_without_a_best_cosine_abstains() -> None:
    assert run(evidence(0.99), settings=Settings(threshold=-1.0), best_cosine=None) == Decision(
        False,
        False,
        pytest.approx(0.99),
    )


def test_the_threshold_override_decides_by_cosine_even_without_evidence() -> None:
    assert run(None, settings=Settings(threshold=0.5), best_cosine=0.8) == Decision(True, False, None)


def test_the_threshold_override_keeps_the_one_word_rule() -> None:
    assert run(evidence(0.99, terms=1), settings=Settings(threshold=0.2), best_cosine=0.9) == Decision(
        True,
        True,
        pytest.approx(0.99),
    )


def test_the_lexical_retriever_ignores_the_cosine_threshold() -> None:
    settings = Settings(threshold=0.9)
    lexical = evidence(0.8, best_cosine=None)
    assert run(lexical, settings=settings, mode="lexical", best_cosine=None) == Decision(
        True, False, pytest.approx(0.8)
    )
    assert not run(evidence(0.1, best_cosine=None), settings=settings, mode="lexical", best_cosine=None).found


# -- the one-line description ---------------------------------------------------------------


def test_describe_names_the_cosine_override_unless_the_retriever_is_lexical() -> None:
    settings = Settings(threshold=0.35)
    line = describe(settings, "hybrid", toy(), "m")
    assert "best cosine is under 0.35" in line and "--threshold" in line
    lexical = describe(settings, "lexical", toy(), "m")
    assert "cosine" not in lexical and "P(answerable) < 0.4" in lexical


def test_describe_gives_the_floor_and_weak_level_in_force() -> None:
    assert describe(Settings(), "dense", toy(), "m") == (
        "abstains when P(answerable) < 0.4, weak match under 0.7 (calibration for toy)"
    )
    overridden = describe(Settings(min_confidence=0.6, confident_confidence=0.3), "dense", toy(), "m")
    assert overridden.startswith("abstains when P(answerable) < 0.6, weak match under 0.6 ")


def test_describe_says_why_the_generic_calibration_is_used() -> None:
    generic = toy(name=GENERIC)
    assert "the lexical retriever has no cosines" in describe(Settings(), "lexical", generic, "my/model")
    assert "none fitted for my/model" in describe(Settings(), "hybrid", generic, "my/model")
