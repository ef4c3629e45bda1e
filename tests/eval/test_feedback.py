"""Votes on quotes: recording, reading, turning them into questions, and `qa eval --feedback`."""

from __future__ import annotations

import json
import multiprocessing
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbedder

import qa
import qa.update as update_module
from qa.cli import main
from qa.eval.feedback import (
    FEEDBACK_FILE,
    FeedbackSummary,
    Vote,
    down_vote_metrics,
    feedback_path,
    read_votes,
    record_vote,
    votes_to_questions,
)

OBSERVATORY = "Scientists at the Etna Observatory measure gas emissions every day to forecast eruptions."


def vote_on(index: qa.Index, key: str, vote: str, *, searched: str = "Who measures gas at Etna?") -> Vote:
    """A vote on the indexed paragraph ``key`` (``FILE#PARAGRAPH``)."""
    passage = next(p for p in index.passages if p.key == key)
    return Vote(
        question=searched,
        searched=searched,
        source=passage.source,
        paragraph=passage.paragraph,
        start_line=passage.start_line,
        end_line=passage.end_line,
        citation=f"corpus/{passage.source} ¶{passage.paragraph}",
        passage_sha256=passage.sha256,
        vote=vote,  # type: ignore[arg-type]
        time="2025-01-31T12:00:00+00:00",
    )


def sample(number: int, writer: str = "t") -> Vote:
    """A vote whose question identifies its writer and number, long enough to span many blocks."""
    return Vote(
        question=f"{writer}:{number} " + "é" * (number % 7 * 300),
        searched=f"{writer}:{number}",
        source="volcano.txt",
        paragraph=2,
        start_line=4,
        end_line=4,
        citation="corpus/volcano.txt ¶2 (line 4)",
        passage_sha256="0" * 64,
        vote="up" if number % 2 else "down",
        time="2025-01-31T12:00:00+00:00",
    )


def append_many(path: str, writer: str, count: int, start: Any) -> None:
    """Record ``count`` votes from one writer once all pass ``start`` (run in threads and other processes)."""
    start.wait()
    for number in range(count):
        record_vote(Path(path), sample(number, writer))


def test_record_and_read_round_trip(tmp_path: Path) -> None:
    path = feedback_path(tmp_path / "index")
    assert path == tmp_path / "index" / FEEDBACK_FILE
    first, second = sample(1), replace(sample(2), question="Où est l'Etna ¶?", vote="down")
    record_vote(path, first)
    record_vote(path, second)
    assert read_votes(path) == [first, second]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "Où est l'Etna ¶?" in lines[1]
    assert Vote.from_dict(json.loads(lines[0])) == first
    assert set(json.loads(lines[0])) == {
        "question",
        "searched",
        "source",
        "paragraph",
        "start_line",
        "end_line",
        "citation",
        "passage_sha256",
        "vote",
        "time",
    }


def test_vote_for_hit_takes_the_passage_and_citation(fake_index: qa.Index) -> None:
    hit = fake_index.search("Etna Observatory gas emissions", 1)[0]
    vote = Vote.for_hit(hit, question="and gas?", searched="Etna gas emissions", vote="up")
    assert (vote.source, vote.paragraph, vote.citation) == (hit.source, hit.passage.paragraph, hit.citation)
    assert vote.passage_sha256 == hit.passage.sha256 and vote.time.endswith("+00:00")


def test_record_refuses_a_bad_vote_and_an_unwritable_place(tmp_path: Path) -> None:
    with pytest.raises(qa.QueryError, match="'up', 'down' or 'none'"):
        record_vote(tmp_path / FEEDBACK_FILE, replace(sample(1), vote="maybe"))  # type: ignore[arg-type]
    assert not (tmp_path / FEEDBACK_FILE).exists()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(qa.IndexAccessError, match=r"not-a-folder.*writable folder"):
        record_vote(blocker / FEEDBACK_FILE, sample(1))


def test_concurrent_appends_from_threads_and_processes_keep_every_line(tmp_path: Path) -> None:
    path = tmp_path / "index" / FEEDBACK_FILE
    count, thread_count, process_count = 300, 6, 4
    context = multiprocessing.get_context("spawn")
    # Every writer waits at the same barrier, so that the writes overlap.
    start = context.Barrier(thread_count + process_count, timeout=120)
    threads = [
        threading.Thread(target=append_many, args=(str(path), f"t{n}", count, start)) for n in range(thread_count)
    ]
    processes = [
        context.Process(target=append_many, args=(str(path), f"p{n}", count, start)) for n in range(process_count)
    ]
    for process in processes:
        process.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    # Every line is a whole vote (read_votes raises on a torn one) and none is lost.
    votes = read_votes(path)
    writers = [f"t{n}" for n in range(thread_count)] + [f"p{n}" for n in range(process_count)]
    assert sorted(v.searched for v in votes) == sorted(f"{w}:{n}" for w in writers for n in range(count))
    assert all(v == sample(int(v.searched.split(":")[1]), v.searched.split(":")[0]) for v in votes)


def test_malformed_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / FEEDBACK_FILE
    good = json.dumps(sample(1).to_dict())
    path.write_text(f"{good}\n\n{good[:-5]}\n", encoding="utf-8")
    with pytest.raises(qa.EvalDataError, match=rf"{FEEDBACK_FILE}:3: not a vote"):
        read_votes(path)
    path.write_text(f"{good}\n" + json.dumps({**sample(1).to_dict(), "paragraph": "2"}) + "\n", encoding="utf-8")
    with pytest.raises(qa.EvalDataError, match=r":2: not a vote \(`paragraph` must be an integer\)"):
        read_votes(path)
    with pytest.raises(qa.EvalDataError, match="no votes file"):
        read_votes(tmp_path / "missing.jsonl")


def test_blank_file_has_no_votes_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / FEEDBACK_FILE
    path.write_text("\n  \n", encoding="utf-8")
    assert read_votes(path) == []
    path.write_text(json.dumps({**sample(3).to_dict(), "added_later": 1}) + "\n", encoding="utf-8")
    assert read_votes(path) == [sample(3)]


def test_up_votes_become_relevant_keys_and_the_last_vote_wins(fake_index: qa.Index) -> None:
    votes = [
        vote_on(fake_index, "volcano.txt#2", "down"),
        vote_on(fake_index, "volcano.txt#2", "up"),
        vote_on(fake_index, "volcano.txt#1", "up"),
        vote_on(fake_index, "volcano.txt#1", "down"),
        vote_on(fake_index, "bakery.md#2", "up", searched="Who owns the bakery?"),
        vote_on(fake_index, "bakery.md#2", "down", searched="Who owns the bakery?"),
    ]
    questions, summary = votes_to_questions(votes, fake_index)
    assert [(q.text, q.relevant) for q in questions] == [("Who measures gas at Etna?", {"volcano.txt#2": 1.0})]
    assert questions[0].id.startswith("feedback-")
    assert summary == FeedbackSummary(votes=6, questions=1, up=1, down=2, gone=0, unanswered=1)


def test_a_vote_taken_back_counts_for_nothing(fake_index: qa.Index) -> None:
    votes = [
        vote_on(fake_index, "volcano.txt#2", "up"),
        vote_on(fake_index, "volcano.txt#1", "up"),
        vote_on(fake_index, "volcano.txt#1", "none"),
        vote_on(fake_index, "bakery.md#2", "down", searched="Who owns the bakery?"),
        vote_on(fake_index, "bakery.md#2", "none", searched="Who owns the bakery?"),
    ]
    questions, summary = votes_to_questions(votes, fake_index)
    assert [(q.text, q.relevant) for q in questions] == [("Who measures gas at Etna?", {"volcano.txt#2": 1.0})]
    # The query whose only vote was taken back is not an unanswered one either.
    assert summary == FeedbackSummary(votes=5, questions=1, up=1, down=0, gone=0, unanswered=0)
    assert down_vote_metrics(fake_index, votes)["down_questions"] == 0


def test_a_moved_paragraph_is_found_at_its_new_place(fake_index: qa.Index, corpus: Path) -> None:
    vote = vote_on(fake_index, "volcano.txt#2", "up")
    assert fake_index.passages[[p.key for p in fake_index.passages].index("volcano.txt#2")].text == OBSERVATORY
    path = corpus / "volcano.txt"
    path.write_text("A new opening paragraph about Sicily.\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    questions, summary = votes_to_questions([vote], fake_index.refresh())
    assert questions[0].relevant == {"volcano.txt#3": 1.0}
    assert summary.gone == 0


def test_a_changed_paragraph_is_gone(fake_index: qa.Index, corpus: Path) -> None:
    votes = [vote_on(fake_index, "volcano.txt#2", "up"), vote_on(fake_index, "volcano.txt#1", "down")]
    path = corpus / "volcano.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("every day", "every hour"), encoding="utf-8")
    questions, summary = votes_to_questions(votes, fake_index.refresh())
    assert questions == []
    assert (summary.gone, summary.up, summary.down, summary.unanswered) == (1, 1, 1, 0)


def test_down_vote_metrics_say_where_disliked_paragraphs_rank(fake_index: qa.Index) -> None:
    first, second, sixth = "Etna Observatory gas emissions", "Danube barges carry grain", "Who bakes bread?"
    votes = [
        vote_on(fake_index, fake_index.search(first, 1)[0].passage.key, "down", searched=first),
        vote_on(fake_index, fake_index.search(second, 2)[1].passage.key, "down", searched=second),
        vote_on(fake_index, fake_index.search(second, 1)[0].passage.key, "up", searched=second),
        vote_on(fake_index, fake_index.search(sixth, 6)[5].passage.key, "down", searched=sixth),
        # A down-vote on a paragraph no longer indexed does not count.
        replace(vote_on(fake_index, "bakery.md#1", "down", searched="gone"), passage_sha256="f" * 64),
    ]
    metrics = down_vote_metrics(fake_index, votes)
    assert metrics == {"down_questions": 3, "down_in_top1": pytest.approx(1 / 3), "down_in_top3": pytest.approx(2 / 3)}
    assert down_vote_metrics(fake_index, []) == {"down_questions": 0, "down_in_top1": None, "down_in_top3": None}


@pytest.fixture
def cli_index(fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake index's folder, with the CLI loading the fake embedder instead of the real model."""
    monkeypatch.setattr(update_module, "load_embedder", lambda model="x", **_: FakeEmbedder(name=model))
    return fake_index.folder


def test_eval_feedback_prints_the_summary_and_metrics(
    fake_index: qa.Index, cli_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = feedback_path(cli_index)
    record_vote(path, vote_on(fake_index, "volcano.txt#2", "up", searched="Etna Observatory gas emissions"))
    record_vote(path, vote_on(fake_index, "bakery.md#2", "down", searched="Etna Observatory gas emissions"))
    record_vote(path, vote_on(fake_index, "bakery.md#1", "down", searched="Who bakes bread?"))
    assert main(["eval", "--feedback", str(path), "--index", str(cli_index)]) == 0
    out = capsys.readouterr().out
    assert "3 votes: 1 up and 2 down count" in out and "1 queries with only down-votes" in out
    assert "1 questions, retriever hybrid, model fake-embedder" in out
    assert "recall@1" in out and "down_in_top3" in out

    # Without a FILE it reads feedback.jsonl in the index folder.
    assert main(["eval", "--feedback", "--index", str(cli_index), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feedback"] == {"votes": 3, "questions": 1, "up": 1, "down": 2, "gone": 0, "unanswered": 1}
    assert data["metrics"]["recall@1"] == 1.0 and data["metrics"]["down_questions"] == 2
    assert data["questions"][0]["ranked"][0] == "volcano.txt#2"


def test_eval_feedback_without_usable_votes_fails_with_a_message(
    fake_index: qa.Index, cli_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = feedback_path(cli_index)
    path.write_text("", encoding="utf-8")
    assert main(["eval", "--feedback", str(path), "--index", str(cli_index)]) == 1
    assert "holds no votes yet" in capsys.readouterr().err
    record_vote(path, vote_on(fake_index, "bakery.md#1", "down"))
    assert main(["eval", "--feedback", str(path), "--index", str(cli_index)]) == 1
    assert "qa: error: no usable votes in" in capsys.readouterr().err
    assert main(["eval", "questions.jsonl", "--feedback", str(path), "--index", str(cli_index)]) == 1
    assert "not several" in capsys.readouterr().err


def test_a_vote_on_a_question_with_a_line_separator_reads_back(tmp_path: Path) -> None:
    path = tmp_path / FEEDBACK_FILE
    odd = "Who runs\u2028the mill\u0085 and the\u000cquay?"
    vote = Vote(odd, odd, "a.txt", 1, 1, 1, "a.txt ¶1 (line 1)", "h" * 64, "up", "2026-01-01T00:00:00+00:00")
    record_vote(path, vote)
    record_vote(path, vote)
    assert read_votes(path) == [vote, vote]
