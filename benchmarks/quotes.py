"""Which passages an answer shows: the relevance cut measured on the seed dev questions and SQuAD.

Usage:
    python benchmarks/quotes.py [--questions tests/data/seed_questions.jsonl] [--squad PATH] [--sample N]

For every question it ranks ``answer_k`` passages with the shipped settings, then applies
the cut of :func:`qa.answer.compose.quote_count` for a grid of margins (distance from the best
fused score) and confident levels (dense cosine that shows a passage anyway). It prints,
per setting, over the answerable questions:

- recall: share of questions whose relevant paragraph is among the shown quotes
  (a duplicate folded into a shown quote counts);
- precision: share of shown quotes that are relevant;
- shown: mean number of quotes shown.

"always 3" is the old behaviour (three quotes, every time). The shipped setting is marked.

On SQuAD it also measures the highlight rule (:func:`qa.answer.highlight.highlight_spans`): a
quote's best sentence is marked if it clears an absolute bar and is within a margin of
the best sentence of the whole answer. For the shown quotes of the shipped cut, per bar
and margin: how often the relevant quote's highlight holds the answer text (answer
found) and what share of highlighted sentences hold it (highlight precision; sentences
in wrong quotes count against it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import CachedEmbedder, save_json
from squad import DEFAULT_SQUAD, convert

import qa
from qa.answer.compose import quote_count
from qa.answer.highlight import highlight_spans
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import Question, read_questions
from qa.search.hits import Hit
from qa.text.sentences import sentence_spans

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BARS = (0.0, 0.5, 0.6, 0.7)
WITHIN = (1.0, 0.2, 0.1, 0.05)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
LEVELS = (0.45, 0.55, 0.65, 0.75, 1.01)


@dataclass(frozen=True)
class Ranked:
    """One answerable question's ranked hits and which of them are relevant."""

    hits: tuple[Hit, ...]
    relevant: tuple[bool, ...]


def rank_all(index: qa.Index, questions: list[Question]) -> list[Ranked]:
    """Rank ``answer_k`` passages for every answerable question."""
    out = []
    for question in questions:
        if not question.relevant:
            continue
        hits = index.rank(question.text, index.settings.answer_k).hits
        relevant = tuple(any(p.key in question.relevant for p in (hit.passage, *hit.duplicates)) for hit in hits)
        out.append(Ranked(hits, relevant))
    return out


def measure(ranked: list[Ranked], margin: float | None, level: float) -> dict[str, float]:
    """Recall, precision and mean count of shown quotes; ``margin=None`` shows three, always."""
    found = shown = right = 0
    for item in ranked:
        count = min(3, len(item.hits)) if margin is None else quote_count(item.hits, margin=margin, level=level)
        hits = item.relevant[:count]
        found += any(hits)
        shown += count
        right += sum(hits)
    return {"recall": found / len(ranked), "precision": right / shown, "shown": shown / len(ranked)}


def report(name: str, ranked: list[Ranked], settings: qa.Settings) -> dict[str, dict[str, float]]:
    """Print and return the grid for one data set."""
    rows = {"always 3": measure(ranked, None, 0.0)}
    for level in LEVELS:
        for margin in MARGINS:
            rows[f"margin {margin:.2f}, level {level:.2f}"] = measure(ranked, margin, level)
    shipped = f"margin {settings.quote_margin:.2f}, level {settings.quote_level:.2f}"
    if shipped not in rows:
        rows[shipped] = measure(ranked, settings.quote_margin, settings.quote_level)
    print(f"\n{name}: {len(ranked)} answerable questions, {settings.answer_k} passages ranked each")
    print("| cut | recall | precision | shown |\n| --- | ---: | ---: | ---: |")
    for label, row in rows.items():
        mark = " (shipped)" if label == shipped else ""
        print(f"| {label}{mark} | {row['recall']:.3f} | {row['precision']:.3f} | {row['shown']:.2f} |")
    return rows


def answers_of(squad: Path) -> dict[str, list[str]]:
    """Answer texts of every SQuAD question, by id."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    return {
        item["id"]: [a["text"] for a in item["answers"]]
        for article in data
        for paragraph in article["paragraphs"]
        for item in paragraph["qas"]
    }


def highlight_bars(index: qa.Index, questions: list[Question], answers: dict[str, list[str]]) -> dict[str, Any]:
    """Answer found in the relevant quote's highlight, and highlight precision, per bar and margin."""
    settings = index.settings
    grid = [(bar, within) for bar in BARS for within in WITHIN]
    counts = {key: [0, 0, 0, 0] for key in grid}  # relevant quotes with answer, relevant quotes, right, marked
    for question in questions:
        hits = index.rank(question.text, settings.answer_k).hits
        shown = quote_count(hits, margin=settings.quote_margin, level=settings.quote_level)
        # As the answer does: every ranked passage's sentences, the best of the shown ones as reference.
        spans = [sentence_spans(hit.text) for hit in hits]
        sentences = [hit.text[s:e] for hit, own in zip(hits, spans, strict=True) for s, e in own]
        scores = index.answerer.scorer(question.text, sentences).tolist() if sentences else []
        top = max(scores[: sum(len(own) for own in spans[:shown])], default=0.0)
        position = 0
        for number, (hit, own) in enumerate(zip(hits, spans, strict=True)):
            mine = scores[position : position + len(own)]
            position += len(own)
            if number >= shown:
                continue
            relevant = hit.passage.key in question.relevant
            for bar, within in grid:
                marked = [hit.text[s:e] for s, e in highlight_spans(mine, own, bar=max(bar, top - within))]
                right = [m for m in marked if relevant and any(a in m for a in answers[question.id])]
                counts[bar, within][0] += bool(right)
                counts[bar, within][1] += relevant
                counts[bar, within][2] += len(right)
                counts[bar, within][3] += len(marked)
    rows = {}
    print("\n| highlight bar | within best | answer found | highlight precision |")
    print("| ---: | ---: | ---: | ---: |")
    for (bar, within), (found, relevant, right, marked) in counts.items():
        row = {"answer_found": found / max(relevant, 1), "precision": right / max(marked, 1)}
        rows[f"{bar:.2f}/{within:.2f}"] = row
        shipped = abs(bar - settings.highlight_bar) < 1e-9 and abs(within - settings.highlight_within) < 1e-9
        mark = " (shipped)" if shipped else ""
        shown_within = "off" if within >= 1 else f"{within:.2f}"
        print(f"| {bar:.2f}{mark} | {shown_within} | {row['answer_found']:.3f} | {row['precision']:.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "seed_questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--sample", type=int, default=2000, help="SQuAD questions sampled (0: all)")
    parser.add_argument("--highlight-sample", type=int, default=500, help="SQuAD questions for the highlight bar")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    args = parser.parse_args()
    settings = qa.Settings()
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    results = {}

    seeds = qa.build_index(args.corpus, args.out / "seeds" / "index-default", settings=settings, embedder=embedder)
    results["seeds"] = report("seed dev questions", rank_all(seeds, read_questions(args.questions)), settings)

    if args.squad.exists():
        paths = convert(args.squad, args.out / "squad")
        questions = read_questions(paths["questions"])
        if args.sample:
            questions = random.Random(0).sample(questions, min(args.sample, len(questions)))
        index = qa.build_index(
            paths["corpus"], args.out / "squad" / "index-default", settings=settings, embedder=embedder, progress=True
        )
        embedder.prime([q.text for q in questions])
        results["squad"] = report(f"SQuAD dev (sample of {len(questions)})", rank_all(index, questions), settings)
        results["squad_highlights"] = highlight_bars(index, questions[: args.highlight_sample], answers_of(args.squad))
    else:
        print(f"no SQuAD file at {args.squad}; skipped", file=sys.stderr)
    save_json(HERE / "results" / "quotes.json", results)


if __name__ == "__main__":
    main()
