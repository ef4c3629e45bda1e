"""The HTTP edge of `qa serve`: bad requests answered with messages, limits, no monitoring, auth."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from conftest import serving

import qa
from qa.web.access import Access
from qa.web.app import mount_options

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def base(seeds_index: qa.Index) -> Iterator[str]:
    with serving(seeds_index) as url:
        yield url


def call(base: str, raw: str) -> tuple[str, object]:
    """POST a raw JSON body to /ask and read the event stream: ``(event, data)``."""
    posted = httpx.post(f"{base}/gradio_api/call/ask", content=raw, headers={"content-type": "application/json"})
    if posted.status_code != 200:
        return "http", posted.status_code
    stream = httpx.get(f"{base}/gradio_api/call/ask/{posted.json()['event_id']}", timeout=60).text
    event = stream.split("event: ", 1)[1].split("\n", 1)[0]
    data = json.loads(stream.split("data: ", 1)[1].split("\n", 1)[0])
    return event, data


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ('"abc"', "got a str"),
        ("NaN", "got nan"),
        ("Infinity", "got inf"),
        ("1e400", "got inf"),
        ("5.5", "got 5.5"),
        ("0", "got 0"),
        ("101", "got 101"),
        ("true", "got True"),
        ("[]", "got a list"),
    ],
)
def test_bad_k_gets_the_answer_shape_with_a_message(base: str, k: str, message: str) -> None:
    event, data = call(base, f'{{"data": ["Who directs the Basra Cultural Center?", {k}, null]}}')
    assert event == "complete" and isinstance(data, list)
    answer = data[0]
    assert answer["found"] is False and answer["quotes"] == [] and message in answer["error"]
    assert set(answer) >= {"question", "searched", "found", "confident", "message", "quotes", "more", "warnings"}


def test_missing_k_means_the_default(base: str) -> None:
    event, data = call(base, '{"data": ["Who directs the Basra Cultural Center?", null, null]}')
    assert event == "complete" and isinstance(data, list) and data[0]["found"] is True


def test_huge_and_broken_questions_are_refused_without_echoing_them(base: str) -> None:
    event, data = call(base, json.dumps({"data": ["x" * 100_000, 5, None]}))
    assert event == "complete" and isinstance(data, list)
    assert "100000 characters" in data[0]["error"] and len(data[0]["question"]) <= 81
    assert len(json.dumps(data)) < 2000
    event, data = call(base, '{"data": ["who \\ud800", 5, null]}')
    assert event == "complete" and isinstance(data, list) and "broken Unicode" in data[0]["error"]
    event, data = call(base, '{"data": [12, 5, null]}')
    assert event == "complete" and isinstance(data, list) and data[0]["error"]


def test_requests_gradio_refuses_get_a_message_not_null(base: str) -> None:
    event, data = call(base, '{"data": []}')
    assert event == "error" and isinstance(data, dict) and "input values" in str(data["error"])
    assert call(base, '{"data": "nope"}') == ("http", 422)


def test_no_monitoring_and_no_big_uploads(base: str, seeds_index: qa.Index) -> None:
    assert httpx.get(f"{base}/monitoring/summary").status_code in (403, 404)
    # One byte over the largest document the index takes: refused before it is stored.
    over = int(seeds_index.settings.max_file_mb * 1024 * 1024) + 1
    upload = httpx.post(f"{base}/gradio_api/upload", files={"files": ("a.txt", b"x" * over)}, timeout=60)
    assert upload.status_code == 413
    # A server whose page adds no documents takes no upload larger than 64 KB.
    with serving(seeds_index, access=Access.decide(read_only=True, open_network=False)) as closed:
        upload = httpx.post(f"{closed}/gradio_api/upload", files={"files": ("a.txt", b"x" * 200_000)})
        assert upload.status_code == 413


def test_corpus_files_are_not_served_by_path(base: str, seeds_index: qa.Index) -> None:
    path = seeds_index.corpus / "001_9dcbbab14ab930fe.txt"
    for url in (f"{base}/gradio_api/file={path}", f"{base}/file={path}", f"{base}/gradio_api/file=../../etc/passwd"):
        response = httpx.get(url)
        assert response.status_code in (403, 404) and "Basra" not in response.text


def test_auth_keeps_out_who_does_not_log_in(seeds_index: qa.Index) -> None:
    with serving(seeds_index, auth=("reader", "s3cret")) as base:
        assert httpx.post(f"{base}/gradio_api/call/ask", json={"data": ["q", 5, None]}).status_code == 401
        with httpx.Client() as session:
            assert session.post(f"{base}/login", data={"username": "reader", "password": "wrong"}).status_code >= 400
            assert session.post(f"{base}/login", data={"username": "reader", "password": "s3cret"}).status_code == 200
            assert session.post(f"{base}/gradio_api/call/ask", json={"data": ["q", 5, None]}).status_code == 200


def test_concurrent_requests_all_get_their_own_answer(base: str, seeds_index: qa.Index) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "Who directs the Basra Cultural Center?",
        "What library was established in Basra?",
        "What kind of aid do organizations in Isfahan send to Gaza?",
        "What is the capital of France?",
    ] * 6
    expected = {q: seeds_index.answer(q).to_dict() for q in set(questions)}
    with ThreadPoolExecutor(len(questions)) as pool:
        replies = list(pool.map(lambda q: call(base, json.dumps({"data": [q, None, None]})), questions))
    for question, (event, data) in zip(questions, replies, strict=True):
        assert event == "complete" and isinstance(data, list) and data[0] == expected[question]


def test_limits_can_be_changed() -> None:
    from qa.config import read_environment

    closed = Access.decide(read_only=True, open_network=False)
    assert mount_options(access=closed)["max_file_size"] == "64kb" and mount_options()["enable_monitoring"] is False
    # Where the page adds documents, an upload may be as large as one document the index takes.
    assert mount_options()["max_file_size"] == "10240kb"
    server = read_environment({"QA_MAX_UPLOAD": "1mb", "QA_MONITORING": "1"}).server
    assert mount_options(server)["max_file_size"] == "1mb" and mount_options(server)["enable_monitoring"] is True
