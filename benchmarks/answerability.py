"""Fit and measure the answerability model (abstention) on SQuAD half splits.

Usage:
    python benchmarks/squad.py            # once: writes benchmarks/data/squad/
    python benchmarks/answerability.py [--write] [--plot docs/abstention.png] [--model NAME]

``--model`` calibrates another sentence-transformers model (its index is built beside
the default one; the first use of a model not installed locally needs the network).

The index holds the 24 even-numbered SQuAD dev articles; all 10,570 questions are asked,
so the questions about the odd-numbered articles have no answer in it. Articles are cut
into two halves by number (0-1 mod 4 and 2-3 mod 4), each holding answerable and
unanswerable questions: a logistic regression is fitted on one half's questions and
measured on the other's, then the halves swap. The operating point is chosen on the
fitting half only (the highest probability whose false abstentions stay at most
``--false-budget``) and reported on the held-out half. The shipped calibration is then
fitted on all questions with the same rule; ``--write`` stores it under qa/answer/calibration/.
The single-cosine rule it replaces is measured on the same halves for comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from common import CachedEmbedder, save_json

import qa
from qa.answer.answerability import (
    FEATURES,
    GENERIC,
    GENERIC_FEATURES,
    NO_SENTENCE_FEATURES,
    NO_SENTENCES,
    Answerability,
    features,
    file_stem,
)
from qa.config import DEFAULT_MODEL, canonical_model_name
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import read_questions
from qa.search.hits import Evidence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SQUAD = HERE / "data" / "squad"
DEFAULT_SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
OUT_OF_CORPUS = ROOT / "tests" / "data" / "out_of_corpus.jsonl"
#: L2 penalty of the logistic regression (on standardised features).
L2 = 1.0
#: Least probability above which an answer carries no weak-match caveat.
CONFIDENT = 0.5
#: Share of SQuAD's questions above the confident level that must have an answer: a model fitted
#: on paraphrases too gives same-topic questions without an answer high probabilities, so
#: "confident" asks for more than "more likely than not".
CONFIDENT_PRECISION = 0.975


def fit(
    x: np.ndarray, y: np.ndarray, l2: float = L2, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton's method on standardised features.

    ``weights`` (mean 1; ``None``: all 1) let a few hundred written questions count as much
    as a share of SQuAD's ten thousand.

    Returns:
        ``(coefficients, intercept, mean, scale)``.

    """
    weight = np.ones(len(x)) if weights is None else weights
    mean = np.average(x, axis=0, weights=weight)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weight))
    scale[scale == 0] = 1.0
    z = np.c_[np.ones(len(x)), (x - mean) / scale]
    w = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [l2] * (z.shape[1] - 1))
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (weight * (p - y)) + penalty @ w
        hessian = (z * (weight * p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w[1:], float(w[0]), mean, scale


def matrix(rows: list[dict[str, float | None]], names: tuple[str, ...]) -> np.ndarray:
    """The feature rows as an array (missing cosines as 0: only lexical questions lack them)."""
    return np.array([[row[n] if row[n] is not None else 0.0 for n in names] for row in rows], dtype=np.float64)


def operating_point(p: np.ndarray, y: np.ndarray, budget: float) -> float:
    """The highest threshold whose false-abstention rate on ``(p, y)`` is at most ``budget``."""
    answerable = np.sort(p[y == 1])
    # Abstaining below the k-th smallest answerable probability abstains wrongly on k questions.
    k = math.floor(budget * len(answerable))
    return float(answerable[min(k, len(answerable) - 1)])


def confident_level(p: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest probability at and above which at least ``precision`` of the questions have an answer."""
    order = np.argsort(-p, kind="stable")
    shares = np.cumsum(y[order]) / np.arange(1, len(p) + 1)
    good = np.flatnonzero(shares >= precision)
    return float(p[order][good[-1]]) if len(good) else 1.0


def rates(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    """Abstention on unanswerable questions and false abstention on answerable ones."""
    return {
        "abstains_unanswerable": float((p[y == 0] < threshold).mean()),
        "false_abstain": float((p[y == 1] < threshold).mean()),
    }


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC (probability that an answerable question outscores an unanswerable one)."""
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    positives = y.sum()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def model_of(
    name: str,
    names: tuple[str, ...],
    x: np.ndarray,
    y: np.ndarray,
    budget: float,
    fitted_on: str,
    *,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Answerability:
    """Fit a calibration and choose its operating point on the same SQuAD data.

    ``extra`` are rows of other question styles ``(x, y, weights)``, fitted beside SQuAD's
    with the weights given (SQuAD's rows share the rest); the operating point is still
    chosen on SQuAD's rows (the highest probability whose false abstentions stay within
    ``budget``).
    """
    if extra is None:
        coefficients, intercept, mean, scale = fit(x, y)
    else:
        x_extra, y_extra, w_extra = extra
        weights = np.r_[np.full(len(x), (1 - w_extra.sum()) / len(x)), w_extra]
        coefficients, intercept, mean, scale = fit(
            np.r_[x, x_extra], np.r_[y, y_extra], weights=weights / weights.mean()
        )
    p = 1 / (1 + np.exp(-(intercept + ((x - mean) / scale) @ coefficients)))
    abstain = operating_point(p, y, budget)
    # Confident where nearly every SQuAD question at or above the level has its answer (on a
    # split where half have none), and never under an even chance.
    confident = max(CONFIDENT, abstain, confident_level(p, y, CONFIDENT_PRECISION))
    return Answerability(
        name=name,
        features=names,
        coefficients=tuple(round(float(c), 6) for c in coefficients),
        mean=tuple(round(float(m), 6) for m in mean),
        scale=tuple(round(float(s), 6) for s in scale),
        intercept=round(intercept, 6),
        abstain_below=round(abstain, 4),
        confident_above=round(confident, 4),
        fitted_on=fitted_on,
    )


def probabilities(model: Answerability, rows: list[dict[str, float | None]]) -> np.ndarray:
    """The model's probability for each feature row."""
    x = matrix(rows, model.features)
    total = model.intercept + ((x - np.array(model.mean)) / np.array(model.scale)) @ np.array(model.coefficients)
    result: np.ndarray = 1 / (1 + np.exp(-total))
    return result


def article_groups(squad: Path) -> dict[str, int]:
    """SQuAD question id -> article number."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    return {q["id"]: n for n, article in enumerate(data) for p in article["paragraphs"] for q in p["qas"]}


def evidence_rows(index: qa.Index, questions: list[str]) -> list[dict[str, float | None]]:
    """The answerability features of each question's ranking."""
    rows = []
    for question in questions:
        evidence = index.rank(question, 5).evidence
        assert evidence is not None
        rows.append(features(evidence))
    return rows


#: Share of the fitting weight given to the written question styles (the rest is SQuAD's): chosen on
#: the tuning share (0.10, 0.15, 0.25 tried): the largest that keeps both held-out SQuAD halves at
#: 70 % abstentions or more.
STYLE_SHARE = 0.15


def style_rows(half_index: qa.Index, split: str) -> dict[str, tuple[list[dict[str, float | None]], np.ndarray]]:
    """Feature rows and labels of the written questions of one split, by group (benchmarks/styles.py).

    The rewritten SQuAD questions are asked of the half-split index (those about odd-numbered
    articles have no answer there); the questions about the seeds and the mixed samples, the
    follow-up chains (each turn with the turns before it) and the rare-word questions of an
    index of both folders.
    """
    import styles

    if not styles.SQUAD_TITLES:
        styles.SQUAD_TITLES.extend(styles.squad_titles())
    combined = qa.build_index(styles.combined_corpus(), styles.DATA / "index-combined")
    groups = {
        "SQuAD paraphrased": (half_index, [c for c in styles.squad_cases(half=True) if c.style == "SQuAD paraphrased"]),
        "seeds and mixed": (combined, styles.style_cases()),
        "follow-ups": (combined, styles.chain_cases()),
        "rare words": (combined, styles.rare_cases(combined)),
    }
    found = {}
    for name, (index, cases) in groups.items():
        chosen = [c for c in cases if c.split == split]
        rows = []
        for case in chosen:
            evidence = index.rank(case.question, 5, history=list(case.history)).evidence
            assert evidence is not None
            rows.append(features(evidence))
        found[name] = (rows, np.array([1.0 if c.relevant else 0.0 for c in chosen]))
    return found


def style_matrix(
    groups: dict[str, tuple[list[dict[str, float | None]], np.ndarray]], names: tuple[str, ...], share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The groups' rows as ``(x, y, weights)``: each group weighs ``share / groups`` in all."""
    parts = [(matrix(rows, names), y) for rows, y in groups.values() if len(y)]
    weights = np.concatenate([np.full(len(y), share / len(parts) / len(y)) for _, y in parts])
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]), weights


def style_rates(
    model: Answerability, groups: dict[str, tuple[list[dict[str, float | None]], np.ndarray]]
) -> dict[str, str]:
    """Refused answerable and abstained unanswerable questions of each group, as ``n/N``."""
    found = {}
    for name, (rows, y) in groups.items():
        p = probabilities(model, rows)
        refused = int((p[y == 1] < model.abstain_below).sum())
        abstained = int((p[y == 0] < model.abstain_below).sum())
        found[name] = f"refused {refused}/{int((y == 1).sum())}, abstained {abstained}/{int((y == 0).sum())}"
    return found


#: Questions about the seeds named in the issue, whose probabilities the docs quote.
NAMED = ("peace", "Who is Dr. Hisham Al-Hashimi?", "What library was established in Basra?")


def seed_check(
    model: Answerability, embedder: CachedEmbedder, work: Path, *, sentences: bool = True
) -> dict[str, object]:
    """Abstention on the seed dev questions and the everyday out-of-corpus questions."""
    folder = work / ("index-seeds" if sentences else "index-seeds-no-sentences")
    index = qa.build_index(ROOT / "seeds", folder, embedder=embedder, settings=qa.Settings(sentences=sentences))
    seeds = read_questions(SEED_QUESTIONS)
    everyday = [json.loads(line)["question"] for line in OUT_OF_CORPUS.read_text(encoding="utf-8").splitlines()]
    seed_p = probabilities(model, evidence_rows(index, [q.text for q in seeds]))
    everyday_p = probabilities(model, evidence_rows(index, everyday))
    answerable = np.array([bool(q.relevant) for q in seeds])
    refused = seed_p < model.abstain_below
    return {
        "seed answerable wrongly abstained": f"{int(refused[answerable].sum())}/{answerable.sum()}",
        "seed unanswerable abstained": f"{int(refused[~answerable].sum())}/{(~answerable).sum()}",
        "everyday abstained": f"{int((everyday_p < model.abstain_below).sum())}/{len(everyday)}",
        "lowest answerable seed probability": round(float(seed_p[answerable].min()), 4),
        "highest everyday probability": round(float(everyday_p.max()), 4),
        **{
            f"P({q!r})": round(float(p), 4)
            for q, p in zip(NAMED, probabilities(model, evidence_rows(index, NAMED)), strict=True)
        },
    }


#: Fixed evidence whose probabilities docs/benchmarks.md lists (tests/answer/test_answerability.py
#: checks the shipped calibration gives them).
EXAMPLES = {
    "strong": Evidence(0.70, 0.10, 0.75, 0.50, 0.90, 0.80, 6, 3.0, 1.0),
    "middling": Evidence(0.45, 0.03, 0.50, 0.25, 0.45, 0.80, 6, 1.5, 0.5),
    "unrelated": Evidence(0.15, 0.01, 0.20, 0.05, 0.10, 1.00, 4, 0.8, 0.33),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--false-budget", type=float, default=0.02, help="false abstentions allowed when fitting")
    parser.add_argument(
        "--generic-budget", type=float, default=0.005, help="the same for the generic (model-free) calibration"
    )
    parser.add_argument("--write", action="store_true", help="store the calibrations under qa/answer/calibration/")
    parser.add_argument("--plot", type=Path, default=None, help="write the trade-off curve as a PNG")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the embedding model to calibrate")
    parser.add_argument(
        "--style-share", type=float, default=STYLE_SHARE, help="share of the fitting weight of the written styles"
    )
    args = parser.parse_args()
    model_name = canonical_model_name(args.model)
    if not (SQUAD / "half.jsonl").exists():
        sys.exit("run python benchmarks/squad.py first (it writes benchmarks/data/squad/)")

    embedder = CachedEmbedder(SentenceTransformerEmbedder(args.model))
    default = model_name == DEFAULT_MODEL
    half_folder = SQUAD / ("index-half" if default else f"index-half-{model_name.replace('/', '_')}")
    if default and not half_folder.exists() and (SQUAD / "index-default").exists():
        # The full index's vectors are reused for the half's paragraphs.
        shutil.copytree(SQUAD / "index-default", half_folder)
    index = qa.build_index(SQUAD / "corpus_half", half_folder, embedder=embedder, progress=True)
    questions = read_questions(SQUAD / "half.jsonl")
    embedder.prime([q.text for q in questions])
    started = time.perf_counter()
    rows = evidence_rows(index, [q.text for q in questions])
    print(f"{len(rows)} questions ranked in {time.perf_counter() - started:.1f} s")
    y = np.array([1.0 if q.relevant else 0.0 for q in questions])
    article = article_groups(args.squad)
    half = np.array([(article[q.id] % 4) // 2 for q in questions])

    results: dict[str, object] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    kinds = {"model": FEATURES, "generic": GENERIC_FEATURES}
    budgets = {"model": args.false_budget, "generic": args.generic_budget}
    # Written questions of other styles: their tuning share is fitted beside SQuAD (the model
    # only: keyword features alone cannot tell a paraphrase from a miss), the held-out share measured.
    styles = {split: style_rows(index, split) for split in ("tune", "heldout")} if default else {}
    for kind, names in kinds.items():
        x = matrix(rows, names)
        extra = style_matrix(styles["tune"], names, args.style_share) if styles and kind == "model" else None
        for fit_half in (0, 1):
            train, test = half == fit_half, half != fit_half
            model = model_of(kind, names, x[train], y[train], budgets[kind], f"half {fit_half}", extra=extra)
            p_test = probabilities(model, [rows[i] for i in np.flatnonzero(test)])
            held = rates(p_test, y[test], model.abstain_below)
            key = f"{kind}: fit on half {fit_half}, measured on half {1 - fit_half}"
            results[key] = {"threshold": model.abstain_below, **held, "auc": round(auc(p_test, y[test]), 4)}
            if styles and kind == "model":
                results[key]["held-out styles"] = style_rates(model, styles["heldout"])
            print(key, results[key])
            grid = np.linspace(0, 1, 2001)
            curves[key] = (
                np.array([(p_test[y[test] == 0] < t).mean() for t in grid]),
                np.array([(p_test[y[test] == 1] < t).mean() for t in grid]),
            )
    # The single cosine it replaces, at the old shipped threshold and over its whole range.
    cosine = np.array([row["best_cosine"] or 0.0 for row in rows])
    for fit_half in (0, 1):
        test = half != fit_half
        results[f"single cosine 0.33 (before), half {1 - fit_half}"] = rates(cosine[test], y[test], 0.33)
        grid = np.linspace(-0.2, 1, 2401)
        curves[f"single cosine, half {1 - fit_half}"] = (
            np.array([(cosine[test][y[test] == 0] < t).mean() for t in grid]),
            np.array([(cosine[test][y[test] == 1] < t).mean() for t in grid]),
        )
        print(f"single cosine 0.33, half {1 - fit_half}", results[f"single cosine 0.33 (before), half {1 - fit_half}"])

    # The shipped calibrations: fitted on every question, same operating-point rule.
    mixed = (
        f"SQuAD v1.1 dev half split, all {len(rows)} questions, and the tuning share of the written question "
        f"styles at {args.style_share:g} of the weight (benchmarks/answerability.py)"
    )
    shipped = {
        kind: model_of(
            model_name if kind == "model" else GENERIC,
            names,
            matrix(rows, names),
            y,
            budgets[kind],
            mixed
            if styles and kind == "model"
            else f"SQuAD v1.1 dev half split, all {len(rows)} questions (benchmarks/answerability.py)",
            extra=style_matrix(styles["tune"], names, args.style_share) if styles and kind == "model" else None,
        )
        for kind, names in kinds.items()
    }
    if styles:
        results["shipped model on the held-out styles"] = style_rates(shipped["model"], styles["heldout"])
        print("shipped model, held-out styles:", results["shipped model on the held-out styles"])
    # An index built without sentence vectors ranks differently and has no sentence cosine:
    # its own calibration, fitted on its own rankings of the same questions.
    lean_folder = half_folder.with_name(half_folder.name + "-no-sentences")
    if not lean_folder.exists():
        shutil.copytree(half_folder, lean_folder)
    lean = qa.build_index(SQUAD / "corpus_half", lean_folder, embedder=embedder, settings=qa.Settings(sentences=False))
    lean_rows = evidence_rows(lean, [q.text for q in questions])
    x_lean = matrix(lean_rows, NO_SENTENCE_FEATURES)
    for fit_half in (0, 1):
        train, test = half == fit_half, half != fit_half
        model = model_of("lean", NO_SENTENCE_FEATURES, x_lean[train], y[train], args.false_budget, "")
        p_test = probabilities(model, [lean_rows[i] for i in np.flatnonzero(test)])
        key = f"no sentence vectors: fit on half {fit_half}, measured on half {1 - fit_half}"
        results[key] = {"threshold": model.abstain_below, **rates(p_test, y[test], model.abstain_below)}
        print(key, results[key])
    shipped["no-sentences"] = model_of(
        f"{model_name}{NO_SENTENCES}",
        NO_SENTENCE_FEATURES,
        x_lean,
        y,
        args.false_budget,
        f"SQuAD v1.1 dev half split without sentence vectors, all {len(rows)} questions (benchmarks/answerability.py)",
    )
    for kind, model in shipped.items():
        whole = rates(probabilities(model, lean_rows if kind == "no-sentences" else rows), y, model.abstain_below)
        checks = seed_check(model, embedder, SQUAD, sentences=kind != "no-sentences")
        results[f"shipped {kind}"] = {
            "abstain_below": model.abstain_below,
            "confident_above": model.confident_above,
            **whole,
            **checks,
        }
        print(f"shipped {kind}:", json.dumps(results[f"shipped {kind}"]))
        if kind == "model":
            examples = {name: round(model.probability(e), 4) for name, e in EXAMPLES.items()}
            results["examples"] = examples
            print("probabilities of the fixed examples:", examples)
        if args.write and (kind != "generic" or default):
            target = ROOT / "qa" / "answer" / "calibration" / f"{file_stem(model.name)}.json"
            target.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    # Read off the curves: abstentions at 3 % false abstentions, each rule and half.
    for name, (abstained, wrong) in curves.items():
        within = wrong <= 0.03
        results[f"at 3% false abstentions: {name}"] = round(float(abstained[within].max()), 3)
        print(f"at 3% false abstentions, {name}: abstains on {abstained[within].max():.3f}")
    if args.plot is not None:
        plot(curves, results, args.plot)
    save_json(HERE / "results" / "answerability.json", results)


def plot(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    results: dict[str, object],
    path: Path,
) -> None:
    """The trade-off curves: false abstentions (x) against abstentions on unanswerable questions (y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5), dpi=110)
    for name, (abstained, wrong) in curves.items():
        style = "--" if name.startswith("single") else ("-" if name.startswith("model") else ":")
        axes.plot(wrong, abstained, style, label=name)
    for key, value in results.items():
        if isinstance(value, dict) and "threshold" in value and key.startswith("model"):
            axes.plot(value["false_abstain"], value["abstains_unanswerable"], "ko", markersize=5)
    axes.axvline(0.03, color="grey", linewidth=0.8)
    axes.axhline(0.70, color="grey", linewidth=0.8)
    axes.set_xlim(0, 0.2)
    axes.set_ylim(0, 1)
    axes.set_xlabel("false abstentions (answerable questions refused)")
    axes.set_ylabel("abstentions on unanswerable questions")
    axes.set_title("SQuAD half split, held-out halves (dots: chosen operating points)")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
