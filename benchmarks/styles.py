"""Answers by question style: paraphrases, literal wording, time words, people, rare words, follow-ups.

Usage:
    python benchmarks/styles.py [--split tune|heldout|all] [--squad]

Question sets (``benchmarks/questions/``, written for this benchmark, never for tests):

- ``styles.jsonl``: questions about the seeds and ``tests/data/mixed``, asked against one
  index of both folders (and, for the seeds' questions, against the seeds alone), by style:
  paraphrase, literal, temporal, person, unanswerable (same topic, not in the corpus);
- ``chains.jsonl``: conversations; each turn after the first is asked with the earlier
  questions as history, by the kind of its last turn (new subject, same subject, aspect,
  standalone, temporal);
- ``squad_paraphrased_*.jsonl``: SQuAD dev questions rewritten with other words, asked beside
  the originals of the same ids, against the half-split index (questions about odd-numbered
  articles have no answer there) and the full index (R@1);
- rare-word questions generated here: a word that occurs in exactly one paragraph, asked
  about through a template that also names the article's main subject.

Every question carries a split: ``tune`` (what settings and the calibration may be chosen
on) or ``heldout`` (measured only). Splits are fixed by a hash of the id (by article for
SQuAD), so that they never move. The development questions of the seeds
(``tests/data/seed_questions.jsonl``) and the everyday out-of-corpus questions are
reported as they are: no setting is chosen on them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import save_json

import qa
from qa.text.terms import tokens

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUESTIONS = HERE / "questions"
DATA = HERE / "data" / "styles"
SQUAD = HERE / "data" / "squad"
SQUAD_JSON = ROOT.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"
SEED_DEV = ROOT / "tests" / "data" / "seed_questions.jsonl"
OUT_OF_CORPUS = ROOT / "tests" / "data" / "out_of_corpus.jsonl"
#: SQuAD articles whose rewritten questions are measured only (two with answers in the half index, two without).
SQUAD_HELDOUT = frozenset({18, 19, 38, 43})
#: Share of the other sets held out.
HELDOUT_SHARE = 0.4


def split_of(key: str) -> str:
    """``heldout`` for a fixed share of keys, by hash; else ``tune``."""
    digest = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return "heldout" if digest % 1000 < HELDOUT_SHARE * 1000 else "tune"


@dataclass(frozen=True)
class Case:
    """One question to ask: its text, the paragraphs that answer it, and how to group it."""

    id: str
    question: str
    relevant: frozenset[str]
    style: str
    split: str
    history: tuple[str, ...] = ()
    group: str = ""


@dataclass
class Tally:
    """Outcomes of a group of cases."""

    answerable: int = 0
    refused: int = 0
    first: int = 0
    top5: int = 0
    unanswerable: int = 0
    abstained: int = 0
    misses: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        """The group's figures for a table."""
        share = (lambda n: round(n / self.answerable, 3)) if self.answerable else (lambda n: None)
        return {
            "answerable": self.answerable,
            "refused": self.refused,
            "R@1": share(self.first),
            "R@5": share(self.top5),
            "unanswerable": self.unanswerable,
            "abstained": round(self.abstained / self.unanswerable, 3) if self.unanswerable else None,
        }


def read_lines(path: Path) -> list[dict[str, object]]:
    """The JSON objects of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def keys(answer: qa.Answer) -> list[str]:
    """``FILE#N`` of the answer's passages: quotes first, then the further ones."""
    return [f"{q.source}#{q.paragraph}" for q in (*answer.quotes, *answer.more)]


def ask(index: qa.Index, cases: Iterable[Case], tallies: dict[tuple[str, str], Tally]) -> None:
    """Ask every case and count its outcome under ``(style, split)`` and ``(style, all)``."""
    for case in cases:
        answer = index.answer(case.question, history=list(case.history))
        ranked = keys(answer)
        for key in ((case.style, case.split), (case.style, "all")):
            tally = tallies[key]
            if case.relevant:
                tally.answerable += 1
                tally.refused += not answer.found
                first = bool(ranked) and ranked[0] in case.relevant
                tally.first += first
                tally.top5 += any(k in case.relevant for k in ranked[:5])
                if key[1] == "all" and (not answer.found or not first):
                    got = ranked[0] if ranked else "-"
                    conf = f"{answer.confidence:.3f}" if answer.confidence is not None else "-"
                    why = "refused" if not answer.found else "wrong first"
                    tally.misses.append(f"{case.id} {why} (P={conf}, first {got}): {case.question}")
            else:
                tally.unanswerable += 1
                tally.abstained += not answer.found
                if key[1] == "all" and answer.found:
                    tally.misses.append(f"{case.id} answered (P={answer.confidence:.3f}, {ranked[0]}): {case.question}")


def style_cases(corpus: str | None = None) -> list[Case]:
    """The written questions of ``styles.jsonl`` (of one corpus, or all)."""
    cases = []
    for record in read_lines(QUESTIONS / "styles.jsonl"):
        if corpus is None or record["corpus"] == corpus:
            cases.append(
                Case(
                    str(record["id"]),
                    str(record["question"]),
                    frozenset(record["relevant"]),  # type: ignore[arg-type]
                    str(record["style"]),
                    split_of(str(record["id"])),
                )
            )
    return cases


def chain_cases() -> list[Case]:
    """Every turn after the first of each conversation, with the turns before it as history."""
    cases = []
    for record in read_lines(QUESTIONS / "chains.jsonl"):
        turns = record["turns"]
        assert isinstance(turns, list)
        for number in range(1, len(turns)):
            last = number == len(turns) - 1
            cases.append(
                Case(
                    f"{record['id']}/{number + 1}",
                    turns[number]["question"],
                    frozenset(turns[number]["relevant"]),
                    f"chain: {record['kind']}" if last else "chain: earlier follow-up",
                    split_of(str(record["id"])),
                    history=tuple(t["question"] for t in turns[:number]),
                )
            )
    return cases


def plain_cases(path: Path, style: str) -> list[Case]:
    """A questions file reported as one group (development or out-of-corpus data)."""
    return [
        Case(str(r["id"]), str(r["question"]), frozenset(r["relevant"]), style, "dev")  # type: ignore[arg-type]
        for r in read_lines(path)
    ]


#: Rare-word templates: the first two are the tuning share's, the last two the held-out share's.
RARE_TEMPLATES = (
    ("tune", "What does the {topic} article say about {word}?"),
    ("tune", "Is there anything on {word} in the {topic} text?"),
    ("heldout", "{topic}: where are {word} mentioned?"),
    ("heldout", "Tell me what is written about {word} concerning {topic}."),
)
_NAME = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]{3,})\b")
_WORD = re.compile(r"\b[a-z]{6,}\b")
#: Words a question is not asked around: adverbs, conjunctions and the like.
_PLAIN = frozenset(["although", "because", "between", "without", "whether", "however", "within", "another", "through"])
_MONTHS = frozenset(
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
)


def topic_of(title: str, texts: Sequence[str]) -> str | None:
    """An article's main subject: the title's name the text uses most, else the text's most used name."""
    text = " ".join(texts)
    names = Counter(m for m in _NAME.findall(text) if m not in _MONTHS)
    in_title = [w for w in re.findall(r"[A-Z][a-z]{3,}", title) if w in text and w not in _MONTHS]
    if in_title:
        return max(in_title, key=lambda w: text.count(w))
    return names.most_common(1)[0][0] if names else None


def rare_cases(index: qa.Index, *, limit: int | None = None) -> list[Case]:
    """Questions around words that occur in one paragraph only, each naming its article's main subject.

    The subject is the title's name the article uses most (else the name it uses most);
    articles without one are left out. Each paragraph gives at most one word: its longest
    lower-case word that no other paragraph holds (adverbs and conjunctions left out).
    """
    passages = index.passages
    frequency: Counter[str] = Counter()
    for passage in passages:
        frequency.update(set(tokens(passage.text)))
    by_source: dict[str, list[qa.Passage]] = defaultdict(list)
    for passage in passages:
        by_source[passage.source].append(passage)
    titles = {d.source: d.title for d in index.documents()}
    cases = []
    for source, own in sorted(by_source.items()):
        topic = topic_of(titles.get(source, ""), [p.text for p in own])
        if topic is None:
            continue
        for passage in own:
            words = [
                w
                for w in _WORD.findall(passage.text)
                if w not in _PLAIN and not w.endswith("ly") and (t := tokens(w)) and frequency[t[0]] == 1
            ]
            if not words:
                continue
            word = sorted(words, key=lambda w: (-len(w), w))[0]
            key = f"{source}#{passage.paragraph}"
            digest = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
            split, template = RARE_TEMPLATES[digest % len(RARE_TEMPLATES)]
            question = template.format(topic=topic, word=word)
            cases.append(Case(f"rare:{key}", question, frozenset({key}), "rare word", split))
    if limit is not None and len(cases) > limit:
        step = len(cases) / limit
        cases = [cases[int(i * step)] for i in range(limit)]
    return cases


def squad_cases(*, half: bool) -> list[Case]:
    """The rewritten SQuAD questions and the originals of the same ids.

    With ``half``, only questions about even-numbered articles have an answer (the half index).
    """
    cases = []
    for path in sorted(QUESTIONS.glob("squad_paraphrased_*.jsonl")):
        for record in read_lines(path):
            article = int(record["article"])  # type: ignore[call-overload]
            title = SQUAD_TITLES[article]
            key = f"{title}#{record['paragraph']}"
            answerable = article % 2 == 0 or not half
            relevant = frozenset({key}) if answerable else frozenset()
            split = "heldout" if article in SQUAD_HELDOUT else "tune"
            for style, text in (("SQuAD original", record["original"]), ("SQuAD paraphrased", record["question"])):
                cases.append(Case(f"{record['squad_id']}:{style}", str(text), relevant, style, split))
    return cases


def squad_titles() -> list[str]:
    """SQuAD's article file names by article number (as benchmarks/squad.py writes them)."""
    from squad import file_name

    data = json.loads(SQUAD_JSON.read_text(encoding="utf-8"))["data"]
    return [file_name(article["title"]) for article in data]


SQUAD_TITLES: list[str] = []


def combined_corpus() -> Path:
    """One folder holding the seeds and the mixed samples (copied, so the tests' files are never touched)."""
    folder = DATA / "combined"
    folder.mkdir(parents=True, exist_ok=True)
    for source in (*sorted((ROOT / "seeds").iterdir()), *sorted((ROOT / "tests" / "data" / "mixed").iterdir())):
        target = folder / source.name
        if source.is_file() and (not target.exists() or target.read_bytes() != source.read_bytes()):
            shutil.copy2(source, target)
    return folder


def report(title: str, tallies: dict[tuple[str, str], Tally], splits: Sequence[str]) -> dict[str, object]:
    """Print one table of ``tallies`` for the chosen splits; return its rows."""
    print(f"\n### {title}\n")
    print("| style | split | answerable | refused | R@1 | R@5 | unanswerable | abstained |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows: dict[str, object] = {}
    for (style, split), tally in sorted(tallies.items()):
        if split not in splits:
            continue
        row = tally.row()
        rows[f"{style} / {split}"] = row
        cells = [("–" if v is None else str(v)) for v in row.values()]
        print(f"| {style} | {split} | " + " | ".join(cells) + " |")
    for (style, split), tally in sorted(tallies.items()):
        if split == "all" and tally.misses:
            print(f"\n{style} misses:")
            for miss in tally.misses:
                print("   ", miss)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "heldout", "all"), default="all", help="which share to report")
    parser.add_argument("--squad", action="store_true", help="also the SQuAD rewrites (needs benchmarks/squad.py run)")
    parser.add_argument("--quiet", action="store_true", help="tables only, no list of misses")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a setting to try")
    args = parser.parse_args()
    settings = qa.Settings(**{k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)})
    splits = ("tune", "heldout", "dev") if args.split == "all" else (args.split, "dev")
    results: dict[str, object] = {}

    qa.build_index(ROOT / "seeds", DATA / "index-seeds")
    qa.build_index(combined_corpus(), DATA / "index-combined")
    seeds = qa.load_index(DATA / "index-seeds", settings=settings)
    combined = qa.load_index(DATA / "index-combined", settings=settings)

    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    ask(seeds, plain_cases(SEED_DEV, "seed dev questions"), tallies)
    ask(seeds, plain_cases(OUT_OF_CORPUS, "out of corpus (seeds index)"), tallies)
    ask(seeds, style_cases("seeds"), tallies)
    results["seeds index"] = report("Seeds alone (index of seeds/)", quiet(tallies, args.quiet), splits)

    tallies = defaultdict(Tally)
    ask(combined, style_cases(), tallies)
    ask(combined, plain_cases(OUT_OF_CORPUS, "out of corpus (combined index)"), tallies)
    ask(combined, chain_cases(), tallies)
    ask(combined, rare_cases(combined), tallies)
    results["combined index"] = report("Seeds and mixed samples (one index)", quiet(tallies, args.quiet), splits)

    if args.squad:
        SQUAD_TITLES.extend(squad_titles())
        tallies = defaultdict(Tally)
        full = qa.load_index(SQUAD / "index-default", settings=settings)
        ask(full, squad_cases(half=False), tallies)
        ask(full, rare_cases(full, limit=300), tallies)
        results["squad full"] = report("SQuAD dev, full index (R@1)", quiet(tallies, args.quiet), splits)
        tallies = defaultdict(Tally)
        ask(qa.load_index(SQUAD / "index-half", settings=settings), squad_cases(half=True), tallies)
        results["squad half"] = report("SQuAD dev, half index (abstention)", quiet(tallies, args.quiet), splits)
    save_json(HERE / "results" / "styles.json", results)


def quiet(tallies: dict[tuple[str, str], Tally], drop: bool) -> dict[tuple[str, str], Tally]:
    """The tallies, without their lists of misses when ``drop``."""
    if drop:
        for tally in tallies.values():
            tally.misses.clear()
    return tallies


if __name__ == "__main__":
    main()
