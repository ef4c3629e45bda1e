"""Votes on quotes: recorded beside the index, turned into evaluation questions.

A person rates a quote up (it answers) or down (it does not). Each vote is one JSON line
in ``feedback.jsonl`` inside the index folder. :func:`votes_to_questions` turns the votes
into :class:`qa.eval.questions.Question` objects whose relevant keys are the up-voted
paragraphs at their current place, so retrieval can be measured against what people said.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..answer.quotes import nearest
from ..errors import EvalDataError, IndexAccessError, QueryError
from ..index import Index
from ..search.hits import Hit
from ..text.passages import Passage
from .questions import Question, json_records

__all__ = [
    "DOWN_AT",
    "FEEDBACK_FILE",
    "VOTES",
    "FeedbackSummary",
    "Vote",
    "VoteValue",
    "down_vote_metrics",
    "feedback_path",
    "read_votes",
    "record_vote",
    "utc_now",
    "votes_to_questions",
]

#: Name of the votes file inside the index folder.
FEEDBACK_FILE = "feedback.jsonl"
#: What a vote line may say: up, down, or ``none`` (the person took their vote back).
VOTES = ("up", "down", "none")
#: Cut-offs of the down-vote metric (``down_in_top1``, ``down_in_top3``).
DOWN_AT = (1, 3)

VoteValue = Literal["up", "down", "none"]

_STR_FIELDS = ("question", "searched", "source", "citation", "passage_sha256", "vote", "time")
_INT_FIELDS = ("paragraph", "start_line", "end_line")


def feedback_path(index_folder: Path) -> Path:
    """Where the votes on answers from the index in ``index_folder`` are kept."""
    return Path(index_folder) / FEEDBACK_FILE


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string, e.g. ``2025-01-31T12:00:00+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Vote:
    """One person's verdict on one quoted paragraph.

    Attributes:
        question: The question as the person asked it.
        searched: The query actually searched (differs from ``question`` for follow-ups).
        source: Path of the quoted file relative to the corpus folder.
        paragraph: 1-based paragraph number when the vote was cast.
        start_line: First line of the paragraph then.
        end_line: Last line of the paragraph then (inclusive).
        citation: The citation shown, e.g. ``seeds/a.txt ¶4 (line 4)``.
        passage_sha256: :attr:`qa.Passage.sha256` of the quoted paragraph; finds it again
            after its file was edited.
        vote: ``"up"`` (it answers), ``"down"`` (it does not), or ``"none"``: an earlier vote
            taken back (the last line per query and paragraph counts).
        time: When the vote was cast, ISO 8601 in UTC.

    """

    question: str
    searched: str
    source: str
    paragraph: int
    start_line: int
    end_line: int
    citation: str
    passage_sha256: str
    vote: VoteValue
    time: str

    @classmethod
    def for_hit(cls, hit: Hit, *, question: str, searched: str, vote: VoteValue, time: str | None = None) -> Vote:
        """The vote on a shown hit or quote; ``time`` defaults to now."""
        passage = hit.passage
        return cls(
            question=question,
            searched=searched,
            source=passage.source,
            paragraph=passage.paragraph,
            start_line=passage.start_line,
            end_line=passage.end_line,
            citation=hit.citation,
            passage_sha256=passage.sha256,
            vote=vote,
            time=time or utc_now(),
        )

    def to_dict(self) -> dict[str, Any]:
        """The vote as the JSON object stored on one line of the votes file."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Vote:
        """Read a vote written by :meth:`to_dict`; unknown keys are ignored (later versions may add some).

        Raises:
            ValueError: A field is missing, of the wrong type, or ``vote`` is neither up nor down.

        """
        if not isinstance(record, dict):
            raise ValueError("a vote is a JSON object")
        for name in (*_STR_FIELDS, *_INT_FIELDS):
            if name not in record:
                raise ValueError(f"`{name}` is missing")
        for name in _STR_FIELDS:
            if not isinstance(record[name], str):
                raise ValueError(f"`{name}` must be a string")
        for name in _INT_FIELDS:
            # bool is an int in Python, but never a paragraph number.
            if not isinstance(record[name], int) or isinstance(record[name], bool):
                raise ValueError(f"`{name}` must be an integer")
        if record["vote"] not in VOTES:
            raise ValueError(f"`vote` must be 'up', 'down' or 'none', not {record['vote']!r}")
        return cls(**{name: record[name] for name in (*_STR_FIELDS, *_INT_FIELDS)})


def record_vote(path: Path, vote: Vote) -> None:
    """Append ``vote`` as one JSON line to the votes file ``path``, creating it if needed.

    Safe when several threads and processes append at once: the file is opened with
    ``O_APPEND`` and each line goes out in a single ``write``, which local file systems
    apply whole, at the end of the file (not NFS).

    Raises:
        QueryError: ``vote.vote`` is not ``"up"``, ``"down"`` or ``"none"``.
        IndexAccessError: The file cannot be written; the vote was not recorded.

    """
    if vote.vote not in VOTES:
        raise QueryError(f"a vote is 'up', 'down' or 'none', not {vote.vote!r}")
    line = (json.dumps(vote.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # One write call per line: concurrent appends never interleave inside a line.
            written = os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise IndexAccessError(
            f"cannot record the vote in {path} ({exc.strerror or exc}); "
            f"make {path.parent} a writable folder; the vote was not recorded"
        ) from exc
    if written != len(line):
        raise IndexAccessError(
            f"only part of the vote was written to {path} (is the disk full?); "
            "free some space and remove the incomplete last line"
        )


def read_votes(path: Path) -> list[Vote]:
    """Read every vote in the votes file ``path``, oldest first; blank lines are skipped.

    Raises:
        EvalDataError: The file cannot be read or a line is not a vote (the message names the line).

    """
    path = Path(path)
    if not path.exists():
        raise EvalDataError(f"no votes file at {path}: votes are recorded there when people rate quotes in the chat")
    return json_records(path, lambda record, _: Vote.from_dict(record), file="votes file", record="vote")


@dataclass(frozen=True)
class FeedbackSummary:
    """What became of the votes when they were turned into questions.

    Attributes:
        votes: Votes read.
        questions: Queries turned into questions (at least one up-voted paragraph still indexed).
        up: Up-votes that count (the last vote per query and paragraph).
        down: Down-votes that count.
        gone: Counted votes whose paragraph is no longer in the index (its text changed or its file went).
        unanswered: Queries with only down-votes: nothing shown was right. They are kept out
            of the ranking metrics.

    """

    votes: int
    questions: int
    up: int
    down: int
    gone: int
    unanswered: int

    def to_dict(self) -> dict[str, int]:
        """The summary as plain JSON-ready data."""
        return asdict(self)


def _final_votes(votes: Sequence[Vote]) -> dict[str, dict[str, Vote]]:
    """The last vote per searched query and paragraph hash, queries in order of first vote; taken-back ones left out."""
    final: dict[str, dict[str, Vote]] = {}
    for vote in votes:
        # Later lines replace earlier ones: people change their minds.
        final.setdefault(vote.searched.strip(), {})[vote.passage_sha256] = vote
    kept = {query: {sha: v for sha, v in by.items() if v.vote != "none"} for query, by in final.items()}
    return {query: by for query, by in kept.items() if by}


def _by_hash(passages: Sequence[Passage]) -> dict[str, list[Passage]]:
    """The indexed passages grouped by the hash of their text."""
    found: dict[str, list[Passage]] = {}
    for passage in passages:
        found.setdefault(passage.sha256, []).append(passage)
    return found


def _locate(vote: Vote, by_hash: dict[str, list[Passage]]) -> Passage | None:
    """Where the voted paragraph is now: in the same file, nearest its old place, else any copy."""
    places = by_hash.get(vote.passage_sha256)
    if not places:
        return None
    same_file = [p for p in places if p.source == vote.source]
    return nearest(vote.passage_sha256, vote.paragraph, same_file) or places[0]


def _question_id(query: str) -> str:
    """A stable id for a query, the same in every run over the same votes."""
    return "feedback-" + hashlib.sha256(query.encode("utf-8")).hexdigest()[:12]


def votes_to_questions(votes: Sequence[Vote], index: Index) -> tuple[list[Question], FeedbackSummary]:
    """Turn votes into evaluation questions whose relevant keys are the up-voted paragraphs.

    Votes are grouped by the query that was searched; the last vote per query and
    paragraph wins. Each voted paragraph is looked up in the index by the hash of its
    text, so a paragraph that moved since the vote is keyed ``FILE#PARAGRAPH`` at its
    current place. Queries with only down-votes are counted as ``unanswered`` and give no
    question; a query whose up-voted paragraphs are all gone gives none either.
    """
    final = _final_votes(votes)
    by_hash = _by_hash(index.passages)
    questions: list[Question] = []
    up = down = gone = unanswered = 0
    for query, by_passage in final.items():
        relevant: dict[str, float] = {}
        for vote in by_passage.values():
            if vote.vote == "up":
                up += 1
            else:
                down += 1
            place = _locate(vote, by_hash)
            if place is None:
                gone += 1
            elif vote.vote == "up":
                relevant[place.key] = 1.0
        if all(vote.vote == "down" for vote in by_passage.values()):
            unanswered += 1
        elif relevant:
            questions.append(Question(_question_id(query), query, relevant))
    summary = FeedbackSummary(
        votes=len(votes), questions=len(questions), up=up, down=down, gone=gone, unanswered=unanswered
    )
    return questions, summary


def _shows(hit: Hit, hashes: set[str]) -> bool:
    """Whether a hit shows one of the paragraphs with these hashes (itself or a folded duplicate)."""
    return any(p.sha256 in hashes for p in (hit.passage, *hit.duplicates))


def down_vote_metrics(index: Index, votes: Sequence[Vote]) -> dict[str, float | int | None]:
    """Where the down-voted paragraphs rank now; lower is better.

    Every query with a counted down-vote on a paragraph still indexed is searched again.
    ``down_questions`` is how many there are; ``down_in_top{N}`` for N in :data:`DOWN_AT`
    is the share of them where a down-voted paragraph (or a near-duplicate folded into a
    hit) is among the top N hits, ``None`` when there are none.
    """
    indexed = set(_by_hash(index.passages))
    disliked = {
        query: {sha for sha, vote in by_passage.items() if vote.vote == "down" and sha in indexed}
        for query, by_passage in _final_votes(votes).items()
    }
    ranks: list[int | None] = []
    for query, hashes in disliked.items():
        if not hashes:
            continue
        hits = index.rank(query, max(DOWN_AT)).hits
        ranks.append(next((hit.rank for hit in hits if _shows(hit, hashes)), None))
    out: dict[str, float | int | None] = {"down_questions": len(ranks)}
    for cut in DOWN_AT:
        shown = [rank is not None and rank <= cut for rank in ranks]
        out[f"down_in_top{cut}"] = sum(shown) / len(shown) if shown else None
    return out
