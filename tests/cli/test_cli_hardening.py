"""The qa command's edges, in-process with the fake embedder: usage, ranges, index folders, terminals, serve."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, write_corpus
from fakes import FakeEmbedder

import qa.cli.commands
import qa.index
import qa.update
import qa.web.server
from qa.cli import auth as _auth
from qa.cli import format_answer, main, printable
from qa.config import ServerSettings
from qa.web.access import Access

#: An article that tries to drive the terminal: clear screen, window title (OSC), bell,
#: backspace, carriage return, a C1 CSI and DEL.
HOSTILE = (
    "# The \x1b]0;owned\x07Lighthouse\n"
    "\n"
    "The lighthouse keeper \x1b[2J\x1b[31mlogs\x1b[0m every passing ship in a ledger.\r"
    "FAKE\bX \x9b31m done\x7f.\n"
)
RAW_CONTROLS = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\x7f")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with ``articles/`` indexed into ``embeddings/`` and a different ``seeds/``."""
    monkeypatch.chdir(tmp_path)
    for name in ("QA_INDEX", "QA_CORPUS", "QA_MODEL", "QA_PORT", "QA_HOST", "QA_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(qa.update, "load_embedder", lambda model="x", **_: FakeEmbedder(name=model))
    write_corpus(
        tmp_path / "articles", {"lighthouse.md": HOSTILE, "harbour.txt": "Ferries leave the harbour hourly.\n"}
    )
    write_corpus(tmp_path / "seeds", {"other.txt": "Seeds hold an unrelated article about tea.\n"})
    assert main(["index", "articles", "--out", "embeddings", "--quiet"]) == 0
    return tmp_path


def _one_error_line(err: str) -> str:
    """The single stderr line of a failed command."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("qa: error: ")
    return lines[0]


# -- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "q", "--kk", "3"], "unrecognized arguments: --kk 3 (see qa ask --help)"),
        (["ask", "q", "--k", "x"], "k must be a whole number from 1 to 100, not 'x'"),
        (["ask", "q", "--retriever", "bogus"], "invalid choice: 'bogus'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND (see qa --help)"),
        (["ask"], "the following arguments are required: question (see qa ask --help)"),
    ],
)
def test_usage_errors_are_one_line_and_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message in _one_error_line(err)


def test_help_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--help"]) == 0
    assert "--index" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "q", "--k", "0"], "argument --k: k must be a whole number from 1 to 100, not '0'"),
        (["ask", "q", "--k", "101"], "k must be a whole number from 1 to 100, not '101'"),
        (["ask", "q", "--threshold", "2"], "threshold must be a number from -1 to 1, not '2'"),
        (["ask", "q", "--threshold", "nan"], "threshold must be a number from -1 to 1, not 'nan'"),
        (["ask", "q", "--dense-weight", "1.5"], "dense weight must be a number from 0 to 1, not '1.5'"),
        (["serve", "--port", "70000"], "port must be a whole number from 1 to 65535, not '70000'"),
        (["serve", "--port", "0"], "port must be a whole number from 1 to 65535, not '0'"),
        (["eval", "q.jsonl", "--k", "0"], "k must be a whole number from 1 to 1000, not '0'"),
        (["eval", "q.jsonl", "--dense-weight", "-0.1"], "dense weight must be a number from 0 to 1"),
    ],
)
def test_out_of_range_values_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


def test_a_bad_qa_port_is_refused_like_a_bad_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_PORT", "http")
    assert main(["serve"]) == 1
    assert "argument --port: port must be a whole number from 1 to 65535, not 'http'" in _one_error_line(
        capsys.readouterr().err
    )
    # Only `qa serve` uses it: every other command, and --port given, go on as ever.
    assert main(["index", "--help"]) == 0
    assert main(["ask", "--help"]) == 0


# -- index folders ----------------------------------------------------------------------------


def test_a_missing_explicit_index_is_an_error_and_creates_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["ask", "ferries?", "--index", "nowhere"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "no index at nowhere: build one with `qa index CORPUS --out nowhere`" in line and "--corpus" in line
    # A parent folder that does not exist is refused even with --corpus.
    assert main(["ask", "ferries?", "--index", "a/b", "--corpus", "articles"]) == 1
    assert "no index at a/b (and no folder a)" in _one_error_line(capsys.readouterr().err)
    # A folder that holds other things (here the corpus itself) is not indexed into.
    assert main(["ask", "ferries?", "--index", "articles"]) == 1
    assert "no index at articles" in _one_error_line(capsys.readouterr().err)
    assert not (project / "nowhere").exists() and not (project / "a").exists()
    assert not (project / "articles" / "index.db").exists()


def test_a_file_as_index_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    # A free port: the check of the index must be what fails, whatever else this machine serves.
    assert main(["serve", "--index", "articles/harbour.txt", "--port", str(free_port())]) == 1
    assert "is a file, not an index folder" in _one_error_line(capsys.readouterr().err)


def test_an_explicit_index_is_built_with_corpus_or_in_an_empty_folder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "When do ferries leave?", "--index", "fresh", "--corpus", "articles", "--json"]) == 0
    assert (project / "fresh" / "index.db").is_file()
    (project / "empty").mkdir()
    capsys.readouterr()
    # An empty folder is filled from the default corpus, ./seeds.
    assert main(["ask", "tea?", "--index", "empty", "--json", "--threshold", "-1"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"][0]["source"] == "other.txt"


def test_the_default_index_is_built_on_first_use(tmp_path: Path, project: Path) -> None:
    fresh = tmp_path / "fresh-project"
    write_corpus(fresh / "seeds", {"tea.txt": "Green tea grows on terraced hills.\n"})
    os.chdir(fresh)
    assert main(["ask", "Where does tea grow?", "--json"]) == 0
    assert (fresh / "embeddings" / "index.db").is_file()


def test_the_first_build_of_ask_and_eval_takes_qa_corpus(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    monkeypatch.setenv("QA_CORPUS", "articles")
    monkeypatch.setenv("QA_INDEX", "from-env")
    assert main(["ask", "When do ferries leave the harbour?", "--json", "--threshold", "-1"]) == 0
    out, err = capsys.readouterr()
    assert "building it from articles/" in err
    assert json.loads(out)["quotes"][0]["source"] == "harbour.txt"
    # Once built, the index's own corpus is what it is checked against.
    monkeypatch.setenv("QA_CORPUS", "seeds")
    assert main(["ask", "When do ferries leave the harbour?", "--json", "--threshold", "-1"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"][0]["source"] == "harbour.txt"
    # qa eval's questions are about $QA_CORPUS: it indexes that.
    questions = project / "ferries.jsonl"
    questions.write_text('{"id": "f", "question": "When do ferries leave?", "relevant": ["harbour.txt#1"]}\n')
    monkeypatch.setenv("QA_CORPUS", "articles")
    monkeypatch.setenv("QA_INDEX", "for-eval")
    assert main(["eval", str(questions), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["recall@1"] == 1.0
    # An index that exists is evaluated as it is: $QA_CORPUS does not rebuild it from elsewhere.
    monkeypatch.setenv("QA_CORPUS", "seeds")
    monkeypatch.delenv("QA_INDEX")
    database = project / "embeddings" / "index.db"
    before = database.stat().st_mtime_ns
    assert main(["eval", str(questions), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["metrics"]["recall@1"] == 1.0 and "building" not in err
    assert database.stat().st_mtime_ns == before


def test_eval_feedback_never_builds_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_INDEX", raising=False)
    write_corpus(tmp_path / "seeds")
    assert main(["eval", "--feedback"]) == 1
    assert "no index at embeddings: build one with `qa index CORPUS --out embeddings`" in _one_error_line(
        capsys.readouterr().err
    )
    assert main(["eval", "--feedback", "votes.jsonl", "--index", "elsewhere"]) == 1
    assert "no index at elsewhere" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "embeddings").exists() and not (tmp_path / "elsewhere").exists()


def test_a_deleted_manifest_does_not_rebuild_the_index(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    database = project / "embeddings" / "index.db"
    before = database.stat().st_mtime_ns
    (project / "embeddings" / "manifest.json").unlink()
    assert main(["ask", "When do ferries leave the harbour?", "--json", "--threshold", "-1"]) == 0
    out, err = capsys.readouterr()
    # The database is the index: it answers from the articles, not from a rebuild out of ./seeds.
    assert "building" not in err and "rebuilding" not in err
    assert json.loads(out)["quotes"][0]["source"] == "harbour.txt"
    assert database.stat().st_mtime_ns == before


def test_a_missing_database_rebuilds_from_the_recorded_corpus(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    # The database goes; its summary stays: the index is rebuilt from the corpus it records.
    for part in (project / "embeddings").glob("index.db*"):
        part.unlink()
    assert main(["ask", "When do ferries leave the harbour?", "--json", "--threshold", "-1"]) == 0
    out, err = capsys.readouterr()
    assert "articles" in err and "seeds" not in err
    assert json.loads(out)["quotes"][0]["source"] == "harbour.txt"


# -- terminal safety --------------------------------------------------------------------------


def test_printable_escapes_controls_but_keeps_newline_and_tab() -> None:
    assert printable("a\x1b[31mb\tc\nd\x07\x08\r\x00\x9b\x7f é") == "a\\x1b[31mb\tc\nd\\x07\\x08\\x0d\\x00\\x9b\\x7f é"


def test_ask_text_escapes_control_characters_from_articles(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["ask", "Who logs every passing ship in a ledger?", "--threshold", "-1", "--k", "2"]) == 0
    out, err = capsys.readouterr()
    for control in RAW_CONTROLS:
        assert control not in out and control not in err
    assert "\\x1b]0;owned\\x07Lighthouse" in out  # the title
    assert "\\x1b[2J\\x1b[31mlogs\\x1b[0m" in out
    # The bare CR ends a line, as the citation counts it (lines 3-4): the quote goes on on the next line.
    assert "lines 3-4" in out and "    > FAKE\\x08X \\x9b31m done\\x7f." in out


def test_colour_highlights_are_the_only_escapes(project: Path) -> None:
    index = qa.index.load_index(project / "embeddings", settings=qa.Settings(threshold=-1))
    answer = index.answer("Who logs every passing ship in a ledger?", 1)
    quote = answer.quotes[0]
    text = format_answer(answer, colour=True)
    if quote.highlights:
        assert text.count("\x1b[1;33m") == len(quote.highlights) == text.count("\x1b[0m")
        text = text.replace("\x1b[1;33m", "").replace("\x1b[0m", "")
    for control in RAW_CONTROLS:
        assert control not in text


def test_ask_json_keeps_the_text_verbatim(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["ask", "Who logs every passing ship in a ledger?", "--json", "--threshold", "-1", "--k", "2"]) == 0
    out = capsys.readouterr().out
    # Every control character is a JSON escape in the output ...
    for control in RAW_CONTROLS:
        assert control not in out
    # ... and decodes to the article's exact text.
    quote = next(q for q in json.loads(out)["quotes"] if q["source"] == "lighthouse.md")
    text = (project / "articles" / "lighthouse.md").read_bytes().decode("utf-8")
    assert quote["text"] == text[quote["start_char"] : quote["end_char"]]
    assert "\x1b[2J" in quote["text"] and "\x9b" in quote["text"]


# -- serve --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "ann", ":secret", "ann:"])
def test_auth_needs_user_and_password(value: str) -> None:
    with pytest.raises(Exception, match="must be USER:PASS"):
        _auth(value)


def test_auth_splits_at_the_first_colon() -> None:
    assert _auth("ann:s3:cr:et") == ("ann", "s3:cr:et")


@pytest.fixture
def served(project: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of each ``qa.web.server.serve`` call, which launches nothing."""
    calls: list[dict[str, Any]] = []

    def fake_serve(live: object, **kwargs: Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(qa.web.server, "serve", fake_serve)
    # Nothing is bound: any host may be named.
    monkeypatch.setattr(qa.cli.commands, "check_address", lambda host, port: None)
    return calls


def test_serve_passes_auth_from_the_option_or_qa_auth(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--auth", "ann:s3:cret"]) == 0
    monkeypatch.setenv("QA_AUTH", "bob:pw")
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    # Under --auth, the page may add documents even beyond this machine.
    access = Access()
    assert served == [
        {"host": "0.0.0.0", "port": 8123, "auth": ("ann", "s3:cret"), "server": ServerSettings(), "access": access},
        {"host": "0.0.0.0", "port": 7860, "auth": ("bob", "pw"), "server": ServerSettings(), "access": access},
    ]
    assert "warning" not in capsys.readouterr().err


def test_read_only_from_the_option_or_qa_read_only_and_the_upload_settings(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["serve", "--read-only"]) == 0
    monkeypatch.setenv("QA_READ_ONLY", "1")
    assert main(["serve"]) == 0
    assert [call["access"].changes for call in served] == [False, False]
    assert all("read-only" in call["access"].why_not for call in served)
    monkeypatch.delenv("QA_READ_ONLY")
    monkeypatch.setenv("QA_UPLOAD_FILES", "3")
    monkeypatch.setenv("QA_MAX_FILE_MB", "2")
    monkeypatch.setenv("QA_UPLOAD_FOLDER", "inbox/new")
    assert main(["serve"]) == 0
    access = served[-1]["access"]
    assert (access.changes, access.limits.max_files, access.limits.max_file_mb, access.folder) == (
        True,
        3,
        2.0,
        "inbox/new",
    )


def test_a_bad_upload_folder_is_one_line(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_UPLOAD_FOLDER", "../outside")
    capsys.readouterr()
    assert main(["serve"]) == 1
    assert "QA_UPLOAD_FOLDER must be a folder inside the corpus" in _one_error_line(capsys.readouterr().err)
    assert served == []


def test_a_bad_auth_is_refused_without_echoing_it(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["serve", "--auth", "hunter2"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "argument --auth: must be USER:PASS" in line and "hunter2" not in line
    assert served == []


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),
        ("192.168.1.20", True),
        ("::", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_serving_beyond_loopback_without_auth_warns(
    host: str, warned: bool, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["serve", "--host", host]) == 0
    warning = (
        f"qa: warning: serving on {host} without --auth: anyone who can reach this machine can read the articles "
        "(adding documents from the page is off)"
    )
    assert (warning in capsys.readouterr().err.splitlines()) is warned
    # Open to the network without a password: nobody may change the corpus from the page.
    access = Access.decide(read_only=False, open_network=warned)
    assert served == [{"host": host, "port": 7860, "auth": None, "server": ServerSettings(), "access": access}]
    assert access.changes is not warned


def test_a_busy_port_or_a_foreign_host_is_one_line_before_any_index_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
        assert capsys.readouterr().err == f"qa: error: port {port} is in use: choose another with --port\n"
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine.
    assert main(["serve", "--host", "192.0.2.7", "--port", "8000", "--auth", "a:b"]) == 1
    assert _one_error_line(capsys.readouterr().err) == (
        "qa: error: 192.0.2.7 is not an address of this machine: choose another with --host"
    )
    # Said at once: nothing was built in the working folder.
    assert not (tmp_path / "embeddings").exists()


def test_a_server_that_fails_to_start_is_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(live: object, **_: object) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(qa.web.server, "serve", refused)
    monkeypatch.setattr(qa.cli.commands, "check_address", lambda host, port: None)
    capsys.readouterr()
    assert main(["serve"]) == 1
    assert capsys.readouterr().err == (
        "qa: error: cannot serve on 127.0.0.1:7860 (Address already in use): choose another --port\n"
    )


def test_a_server_error_that_is_not_the_address_s_is_not_blamed_on_the_port(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(live: object, **_: object) -> None:
        raise OSError(28, "No space left on device", "/tmp/gradio")

    monkeypatch.setattr(qa.web.server, "serve", full)
    monkeypatch.setattr(qa.cli.commands, "check_address", lambda host, port: None)
    capsys.readouterr()
    assert main(["serve"]) == 1
    assert capsys.readouterr().err == "qa: error: No space left on device (/tmp/gradio)\n"


def test_ask_and_serve_with_a_corpus_and_no_index_use_one_inside_that_corpus(
    project: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "embeddings" / "index.db").read_bytes()
    write_corpus(project / "other", {"tea.txt": "Darjeeling tea is picked by hand in the spring.\n"})
    capsys.readouterr()
    assert main(["ask", "Who picks the tea?", "--corpus", "other", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {q["source"] for q in answer["quotes"] + answer["more"]} == {"tea.txt"}
    # Built inside the corpus named; the default index (of another corpus) is untouched.
    assert (project / "other" / ".qa-index" / "index.db").is_file()
    assert (project / "embeddings" / "index.db").read_bytes() == before
    assert main(["serve", "--corpus", "other"]) == 0
    assert len(served) == 1
    assert (project / "embeddings" / "index.db").read_bytes() == before


def test_a_token_without_auth_is_refused(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["serve", "--token", "a-long-enough-token-123"]) == 1
    assert "--token (or $QA_TOKEN) needs --auth USER:PASS too" in _one_error_line(capsys.readouterr().err)
    assert main(["serve", "--token", "short"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--token must be 16 to 512 printable characters" in line and "short" not in line
    assert main(["serve", "--token", "a-long-enough-token-123", "--auth", "ann:pw"]) == 0
    assert served[-1]["server"].token == "a-long-enough-token-123"
    monkeypatch.setenv("QA_TOKEN", "from-the-environment-0001")
    assert main(["serve", "--auth", "ann:pw"]) == 0
    assert served[-1]["server"].token == "from-the-environment-0001"
