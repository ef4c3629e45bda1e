"""The answerability model: JSON calibrations, fixed probabilities, abstention with the real model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DEV_QUESTIONS, ROOT
from fakes import FakeEmbedder

import qa
from qa.answer.answerability import FEATURES, GENERIC, Answerability, calibration, features, for_model
from qa.errors import SettingsError
from qa.eval.questions import read_questions
from qa.search.hits import Evidence

DATA = ROOT / "tests" / "data"
EVERYDAY = [json.loads(line)["question"] for line in (DATA / "out_of_corpus.jsonl").read_text().splitlines()]

#: Fixed evidence and the probability the shipped calibration gives it (docs/benchmarks.md,
#: "Abstention": the same three rows). Refitting the calibration changes these on purpose.
STRONG = Evidence(
    best_cosine=0.70,
    margin=0.10,
    sentence_cosine=0.75,
    lexical=0.50,
    coverage=0.90,
    max_idf=0.80,
    terms=6,
    standout=3.0,
    agreement=1.0,
)
MIDDLING = Evidence(
    best_cosine=0.45,
    margin=0.03,
    sentence_cosine=0.50,
    lexical=0.25,
    coverage=0.45,
    max_idf=0.80,
    terms=6,
    standout=1.5,
    agreement=0.5,
)
UNRELATED = Evidence(
    best_cosine=0.15,
    margin=0.01,
    sentence_cosine=0.20,
    lexical=0.05,
    coverage=0.10,
    max_idf=1.00,
    terms=4,
    standout=0.8,
    agreement=0.33,
)


def toy(**changes: object) -> dict[str, object]:
    """A one-feature calibration whose probabilities are easy to compute by hand."""
    data: dict[str, object] = {
        "name": "toy",
        "features": ["best_cosine"],
        "coefficients": [2.0],
        "mean": [0.5],
        "scale": [0.25],
        "intercept": -1.0,
        "abstain_below": 0.2,
        "confident_above": 0.6,
    }
    return {**data, **changes}


def test_a_calibration_computes_the_logistic_of_its_standardised_features() -> None:
    model = Answerability.from_dict(toy())
    evidence = Evidence(0.75, 0.1, 0.8, 0.3, 0.5, 0.7, 5)
    # intercept + 2 * (0.75 - 0.5) / 0.25 = 1  ->  1 / (1 + e^-1)
    assert model.probability(evidence) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert model.probability(Evidence(0.5, 0, 0, 0, 0, 0, 1)) == pytest.approx(1 / (1 + math.e))
    # Far out in either direction the probability saturates without overflow.
    assert model.probability(Evidence(1e6, 0, 0, 0, 0, 0, 1)) == 1.0
    assert model.probability(Evidence(-1e6, 0, 0, 0, 0, 0, 1)) == 0.0
    assert Answerability.from_dict(model.to_dict()) == model


def test_the_shipped_calibration_loads_from_json_and_gives_the_documented_probabilities() -> None:
    model = for_model("all-MiniLM-L6-v2")
    # Every feature there is, cosines and stand-out included.
    assert model.name == "all-MiniLM-L6-v2" and model.features == FEATURES
    assert {"standout", "agreement", "sentence_cosine"} <= set(model.features)
    assert 0 < model.abstain_below < model.confident_above < 1
    assert model.probability(STRONG) == pytest.approx(0.9997, abs=5e-4)
    assert model.probability(MIDDLING) == pytest.approx(0.7128, abs=5e-4)
    assert model.probability(UNRELATED) == pytest.approx(0.0042, abs=5e-4)
    # The probabilities order the evidence as a person would.
    assert model.probability(STRONG) > model.probability(MIDDLING) > model.probability(UNRELATED)
    # The JSON file is what was read: no pickle, nothing computed at import.
    raw = json.loads((Path(qa.__file__).parent / "answer" / "calibration" / "all-MiniLM-L6-v2.json").read_text())
    assert Answerability.from_dict(raw) == model


def test_models_without_a_calibration_and_the_lexical_retriever_use_the_generic_one() -> None:
    assert for_model("some/other-model").name == GENERIC
    assert for_model("sentence-transformers/all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2"
    generic = calibration(GENERIC)
    assert set(generic.features) <= {"lexical", "coverage", "max_idf", "terms"}
    # Without vector search there are no cosines: the generic model still judges.
    lexical_only = Evidence(None, None, None, 0.5, 0.9, 0.8, 6)
    assert generic.usable(lexical_only) and not for_model("all-MiniLM-L6-v2").usable(lexical_only)
    assert 0 <= generic.probability(lexical_only) <= 1
    assert features(lexical_only)["terms"] == pytest.approx(math.log1p(6))


@pytest.mark.parametrize(
    "change",
    [
        {"features": ["nonsense"]},
        {"features": []},
        {"coefficients": [1.0, 2.0]},
        {"scale": [0.0]},
        {"mean": [float("nan")]},
        {"abstain_below": 0.9, "confident_above": 0.5},
        {"confident_above": 1.5},
        {"intercept": "high"},
        {"name": None, "features": None},
    ],
)
def test_malformed_calibrations_are_refused_with_a_settings_error(change: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        Answerability.from_dict(toy(**change))
    with pytest.raises(SettingsError):
        Answerability.from_dict([1, 2, 3])
    with pytest.raises(SettingsError):
        Answerability.from_dict({k: v for k, v in toy().items() if k != "intercept"})


# -- with the real model over the seeds ---------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("question", EVERYDAY)
def test_everyday_questions_outside_the_corpus_abstain(seeds_index: qa.Index, question: str) -> None:
    # None of these 30 questions was used to fit the calibration (SQuAD and benchmarks/questions/).
    answer = seeds_index.answer(question)
    assert not answer.found, (question, answer.confidence)
    assert answer.confidence is not None and answer.confidence < seeds_index.answerability().abstain_below


@pytest.mark.model
def test_no_answerable_seed_question_is_refused_and_the_unanswerable_are(seeds_index: qa.Index) -> None:
    questions = read_questions(DEV_QUESTIONS)
    for question in questions:
        answer = seeds_index.answer(question.text)
        assert answer.found == bool(question.relevant), (question.text, answer.confidence)
        assert answer.to_dict()["confidence"] == round(answer.confidence or 0, 4)


@pytest.mark.model
def test_a_one_word_topic_is_at_most_a_weak_match(seeds_index: qa.Index) -> None:
    answer = seeds_index.answer("peace")
    assert not answer.confident
    assert not answer.found or answer.message.startswith("Weak match")


@pytest.mark.model
def test_a_question_about_a_deleted_paragraph_is_not_answered_confidently(
    seeds_copy: Path, real_embedder: object, tmp_path: Path
) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(seeds_copy, corpus)
    basra = corpus / "001_9dcbbab14ab930fe.txt"
    lines = basra.read_text(encoding="utf-8").split("\n")
    assert "Library" in lines[3]
    basra.write_text("\n".join(lines[:3] + lines[4:]), encoding="utf-8")
    index = qa.build_index(corpus, tmp_path / "index", embedder=real_embedder)  # type: ignore[arg-type]
    before = qa.build_index(seeds_copy, tmp_path / "before", embedder=real_embedder)  # type: ignore[arg-type]
    question = "What library was established in Basra?"
    assert before.answer(question).confident
    after = index.answer(question)
    assert not after.confident, after.confidence
    assert (after.confidence or 0) < (before.answer(question).confidence or 0)


@pytest.mark.model
def test_a_rare_word_question_ranks_its_paragraph_first(seeds_index: qa.Index) -> None:
    # "scholarships" occurs in one paragraph of the 28; the others on the same topic
    # (cultural exchange between Iraq and Palestine) are closer in general meaning.
    holders = [p for p in seeds_index.passages if "scholarship" in p.text.lower()]
    assert [(p.source, p.paragraph) for p in holders] == [("001_9dcbbab14ab930fe.txt", 2)]
    top = seeds_index.search("What role do scholarships play?", k=5)[0]
    assert (top.source, top.paragraph) == ("001_9dcbbab14ab930fe.txt", 2)
    # Without the rare-word evidence the topical paragraph wins: the test can fail.
    plain = qa.load_index(
        seeds_index.folder, settings=qa.Settings(coverage_weight=0.0, sentence_share=0.0, dense_weight=0.6)
    )
    assert plain.search("What role do scholarships play?", k=5)[0].passage != top.passage


@pytest.mark.model
def test_the_threshold_override_still_decides_by_cosine(seeds_index: qa.Index) -> None:
    strict = qa.load_index(seeds_index.folder, settings=qa.Settings(threshold=0.99))
    answer = strict.answer("Who directs the Basra Cultural Center?")
    assert not answer.found and answer.confidence is not None and answer.confidence > 0.5
    lenient = qa.load_index(seeds_index.folder, settings=qa.Settings(min_confidence=0.0))
    assert lenient.answer("What is the capital of France?").found


@pytest.mark.model
def test_an_answer_whose_best_passage_changed_since_indexing_is_not_confident(
    seeds_copy: Path, real_embedder: object, tmp_path: Path
) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(seeds_copy, corpus)
    index = qa.build_index(corpus, tmp_path / "index", embedder=real_embedder)  # type: ignore[arg-type]
    question = "Who directs the Basra Cultural Center?"
    before = index.answer(question)
    assert before.confident and before.quotes[0].paragraph == 3
    # The best paragraph is rewritten after indexing, and the index is not refreshed.
    basra = corpus / before.quotes[0].source
    lines = basra.read_text(encoding="utf-8").split("\n")
    lines[2] = "This paragraph was rewritten and no longer names anyone."
    basra.write_text("\n".join(lines), encoding="utf-8")
    after = index.answer(question)
    assert all(q.text != before.quotes[0].text for q in after.quotes)
    assert not after.confident and after.message.startswith("Weak match: the best-matching passage changed")
    assert any("no longer in the file" in w for w in after.warnings)


# -- review findings ------------------------------------------------------------------------


def test_the_one_word_rule_holds_under_the_cosine_override_too(fake_index: qa.Index) -> None:
    lenient = qa.load_index(fake_index.folder, embedder=FakeEmbedder(), settings=qa.Settings(threshold=-1.0))
    answer = lenient.answer("Danube")
    assert answer.found and not answer.confident


def test_a_malformed_model_calibration_raises_instead_of_falling_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.answer.answerability as module

    broken = toy(name="all-MiniLM-L6-v2", scale=[0.0])
    monkeypatch.setattr(module, "calibration", lambda name: Answerability.from_dict(broken))
    with pytest.raises(SettingsError):
        module.for_model("all-MiniLM-L6-v2")
    monkeypatch.undo()
    # Only a model with no file at all falls back to the generic calibration.
    assert for_model("no/such-model").name == GENERIC


def test_an_index_without_sentences_uses_its_own_calibration() -> None:
    lean = for_model("all-MiniLM-L6-v2", sentences=False)
    assert lean.name == "all-MiniLM-L6-v2.no-sentences" and "sentence_cosine" not in lean.features
    assert for_model("some/other-model", sentences=False).name == GENERIC


def test_the_margin_is_to_the_next_distinct_passage(fake: FakeEmbedder, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    twin = "The Danube flows through Vienna and Budapest before it reaches the Black Sea."
    (corpus / "a.txt").write_text(twin, encoding="utf-8")
    (corpus / "b.txt").write_text(twin, encoding="utf-8")
    (corpus / "c.txt").write_text("Bakers in the old town sell rye bread every morning.", encoding="utf-8")
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake)
    ranking = index.rank("Which sea does the Danube reach?", 3)
    assert ranking.hits[0].also_in, "the copy is folded into the first hit"
    assert ranking.evidence is not None and ranking.evidence.margin is not None
    assert ranking.evidence.margin > 0.05
    assert ranking.evidence.margin == pytest.approx(ranking.hits[0].dense_score - ranking.hits[1].dense_score)


class NaNEmbedder(FakeEmbedder):
    """Gives a vector that is not finite for questions (one text at a time)."""

    def encode(self, texts, *, batch_size=32, progress=False):  # type: ignore[no-untyped-def, override]
        vectors = super().encode(texts, batch_size=batch_size, progress=progress)
        if len(texts) == 1:
            vectors[:] = np.nan
        return vectors


def test_a_model_giving_a_non_finite_question_vector_is_an_error(corpus: Path, tmp_path: Path) -> None:
    index = qa.build_index(corpus, tmp_path / "index", embedder=NaNEmbedder())
    with pytest.raises(qa.ModelError, match="not finite"):
        index.answer("Which sea does the Danube reach?")


@pytest.mark.model
def test_a_one_paragraph_corpus_is_still_judged(real_embedder: object, tmp_path: Path) -> None:
    # One candidate: no spread of cosines to stand out from; the model must still decide.
    corpus = tmp_path / "light"
    corpus.mkdir()
    (corpus / "light.txt").write_text(
        "The Kettle Point lighthouse was built in 1871 to guard the rocky channel.\n", encoding="utf-8"
    )
    index = qa.build_index(corpus, tmp_path / "index", embedder=real_embedder)  # type: ignore[arg-type]
    answer = index.answer("When was the Kettle Point lighthouse built?")
    assert answer.confidence is not None and answer.found
    assert not index.answer("What is the capital of France?").found
