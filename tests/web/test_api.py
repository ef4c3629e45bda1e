"""The JSON API beside the chat: routes, bad input, credentials, limits, readiness and the schema."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import DEV_QUESTIONS, serving
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.config import ServerSettings
from qa.web.schema import ANSWER_FIELDS, QUOTE_FIELDS, AnswerOut

TOKEN = "s3cret-token-0123456789"


@pytest.fixture(scope="module")
def fake_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, qa.Index]]:
    from conftest import write_corpus
    from fakes import FakeEmbedder

    root = tmp_path_factory.mktemp("api")
    index = qa.build_index(write_corpus(root / "corpus"), root / "index", embedder=FakeEmbedder())
    with serving(index) as base:
        yield base, index


def test_answer_is_exactly_what_qa_ask_json_prints(fake_served: tuple[str, qa.Index]) -> None:
    base, index = fake_served
    reply = httpx.post(f"{base}/api/v1/answer", json={"question": "Who trains apprentices in slow fermentation?"})
    assert reply.status_code == 200
    assert reply.json() == index.answer("Who trains apprentices in slow fermentation?").to_dict()
    assert reply.json()["quotes"][0]["source"] == "bakery.md"
    limited = {"question": "Where is Mount Etna?", "k": 2, "sources": ["nested/"], "history": []}
    assert (
        httpx.post(f"{base}/api/v1/answer", json=limited).json()
        == index.answer("Where is Mount Etna?", 2, sources=["nested/"]).to_dict()
    )
    follow = {"question": "and its lava?", "history": ["Where is Mount Etna?"]}
    assert httpx.post(f"{base}/api/v1/answer", json=follow).json()["searched"] != "and its lava?"


def test_search_documents_status_health_and_the_openapi_description(fake_served: tuple[str, qa.Index]) -> None:
    base, index = fake_served
    hits = httpx.post(f"{base}/api/v1/search", json={"question": "sourdough bread", "k": 3}).json()["hits"]
    expected = index.search("sourdough bread", 3)
    assert [(h["passage"]["source"], h["passage"]["paragraph"], h["rank"], h["citation"]) for h in hits] == [
        (e.passage.source, e.passage.paragraph, e.rank, e.citation) for e in expected
    ]
    assert all(h["passage"]["text"] == e.passage.text for h, e in zip(hits, expected, strict=True))
    # The paragraph is the Passage dataclass, field for field.
    assert all(h["passage"] == dataclasses.asdict(e.passage) for h, e in zip(hits, expected, strict=True))
    listed = httpx.get(f"{base}/api/v1/documents").json()
    assert (listed["indexed"], listed["skipped"]) == (3, 0)
    assert [d["source"] for d in listed["documents"]] == ["bakery.md", "nested/rivers.txt", "volcano.txt"]
    status = httpx.get(f"{base}/api/v1/status").json()
    assert status["status"]["state"] == "ready" and status["line"].startswith("Up to date: 6 paragraphs")
    assert httpx.get(f"{base}/health").json() == {"ready": True}
    described = httpx.get(f"{base}/openapi.json").json()
    assert {"/api/v1/answer", "/api/v1/search", "/api/v1/documents", "/api/v1/status", "/health"} <= set(
        described["paths"]
    )
    assert httpx.get(f"{base}/docs").status_code == 200
    # Gradio's own /ask endpoint still answers gradio_client users.
    assert "/gradio_api/call/ask" in httpx.get(f"{base}/gradio_api/info").text or httpx.get(
        f"{base}/gradio_api/info"
    ).json()["named_endpoints"].get("/ask")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": ""}, 400, "the question is empty"),
        ({"question": "   "}, 400, "the question is empty"),
        ({"question": "x" * 2001}, 400, "the question is 2001 characters long; the limit is 2000"),
        ({"question": "Etna", "k": 0}, 400, "k must be a whole number from 1 to 100, got 0"),
        ({"question": "Etna", "k": 101}, 400, "k must be a whole number from 1 to 100"),
        ({"question": "Etna", "sources": ["nope.txt"]}, 400, "nope.txt"),
        ({"question": 5}, 422, "question: Input should be a valid string"),
        ({"question": "Etna", "k": "5"}, 422, "k: Input should be a valid integer"),
        ({"question": "Etna", "sources": "a.txt"}, 422, "sources"),
        ({"question": "Etna", "extra": 1}, 422, "extra: Extra inputs are not permitted"),
        ({}, 422, "question: Field required"),
    ],
)
def test_bad_input_is_a_json_error_with_the_validation_layers_message(
    fake_served: tuple[str, qa.Index], body: dict[str, Any], status: int, message: str
) -> None:
    base, _ = fake_served
    reply = httpx.post(f"{base}/api/v1/answer", json=body)
    assert reply.status_code == status and reply.headers["content-type"] == "application/json"
    assert message in reply.json()["error"]
    assert "Traceback" not in reply.text


def test_malformed_json_and_an_oversized_body(fake_served: tuple[str, qa.Index]) -> None:
    base, _ = fake_served
    broken = httpx.post(f"{base}/api/v1/answer", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "error" in broken.json()
    big = httpx.post(f"{base}/api/v1/answer", content=b"x" * (300 * 1024), headers={"content-type": "application/json"})
    assert big.status_code == 413 and "over the 256 KB" in big.json()["error"]

    # Sent without a length (chunked): counted as it comes.
    def chunks() -> Iterator[bytes]:
        for _ in range(300):
            yield b"x" * 1024

    streamed = httpx.post(f"{base}/api/v1/answer", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )
    | st.fixed_dictionaries(
        {"question": st.text(max_size=300)},
        optional={
            "k": st.integers(-5, 200) | st.text(max_size=3),
            "sources": st.lists(st.text(max_size=20), max_size=3),
            "history": st.lists(st.text(max_size=40), max_size=3),
        },
    )
)
def test_any_body_gets_an_answer_or_a_json_error(fake_served: tuple[str, qa.Index], body: object) -> None:
    base, _ = fake_served
    for route in ("answer", "search"):
        reply = httpx.post(
            f"{base}/api/v1/{route}", content=json.dumps(body), headers={"content-type": "application/json"}
        )
        assert reply.status_code in (200, 400, 422), reply.text
        data = reply.json()
        if reply.status_code != 200:
            assert isinstance(data["error"], str) and data["error"] and "Traceback" not in reply.text
        elif route == "answer":
            assert isinstance(body, dict)
            AnswerOut.model_validate(data)


def test_credentials_are_asked_for_under_auth_or_a_token(fake_index: qa.Index) -> None:
    question = {"question": "Where is Mount Etna?"}
    with serving(fake_index, auth=("ann", "pw:with:colons"), server=ServerSettings(token=TOKEN)) as base:
        for headers in ({}, {"Authorization": "Bearer wrong-token-000000"}, {"Authorization": "Basic !!!"}):
            refused = httpx.post(f"{base}/api/v1/answer", json=question, headers=headers)
            assert refused.status_code == 401 and "credentials required" in refused.json()["error"]
            assert "Basic" in refused.headers["www-authenticate"]
        assert httpx.post(f"{base}/api/v1/answer", json=question, auth=("ann", "wrong")).status_code == 401
        assert httpx.post(f"{base}/api/v1/answer", json=question, auth=("ann", "pw:with:colons")).status_code == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{base}/api/v1/answer", json=question, headers=bearer).status_code == 200
        assert httpx.get(f"{base}/api/v1/documents").status_code == 401
        # The health check says only ready or not: it needs no credentials.
        assert httpx.get(f"{base}/health").status_code == 200
        # The page asks for its own login (Gradio's).
        assert httpx.post(f"{base}/gradio_api/call/ask", json={"data": ["q", 5, None]}).status_code == 401
    with serving(fake_index) as base:
        assert httpx.post(f"{base}/api/v1/answer", json=question).status_code == 200


def test_503_until_the_model_is_warm(fake_index: qa.Index) -> None:
    ready = threading.Event()
    with serving(fake_index, ready=ready) as base:
        assert httpx.get(f"{base}/health").status_code == 503
        waiting = httpx.post(f"{base}/api/v1/answer", json={"question": "Where is Mount Etna?"})
        assert waiting.status_code == 503 and "starting" in waiting.json()["error"]
        ready.set()
        assert httpx.get(f"{base}/health").json() == {"ready": True}
        assert httpx.post(f"{base}/api/v1/answer", json={"question": "Where is Mount Etna?"}).status_code == 200


def test_cors_is_off_unless_origins_are_given(fake_index: qa.Index) -> None:
    asked = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with serving(fake_index) as base:
        assert "access-control-allow-origin" not in httpx.options(f"{base}/api/v1/answer", headers=asked).headers
    with serving(fake_index, server=ServerSettings(cors_origins=("https://app.example",))) as base:
        allowed = httpx.options(f"{base}/api/v1/answer", headers=asked)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"


def test_concurrent_requests_each_get_their_own_answer(fake_served: tuple[str, qa.Index]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    base, index = fake_served
    questions = ["Where is Mount Etna?", "Who owns the Corner Bakery?", "What do barges carry?", "Capital of France?"]
    expected = {q: index.answer(q).to_dict() for q in questions}
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda q: httpx.post(f"{base}/api/v1/answer", json={"question": q}), questions * 8))
    assert [r.json() for r in replies] == [expected[q] for q in questions * 8]


@pytest.mark.model
def test_the_schema_is_the_answer_of_the_python_api_on_real_answers(seeds_index: qa.Index) -> None:
    questions = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    # Field for field, in the order to_dict gives them; a model that allowed more or fewer keys would fail here.
    for question in questions[:40]:
        data = seeds_index.answer(question).to_dict()
        assert list(data) == list(ANSWER_FIELDS)
        assert all(list(quote) == list(QUOTE_FIELDS) for quote in data["quotes"] + data["more"])
        assert AnswerOut.model_validate(data).model_dump() == {
            **data,
            "quotes": [{**q, "highlights": [tuple(h) for h in q["highlights"]]} for q in data["quotes"]],
            "more": [{**q, "highlights": [tuple(h) for h in q["highlights"]]} for q in data["more"]],
        }
    with serving(seeds_index) as base:
        reply = httpx.post(f"{base}/api/v1/answer", json={"question": "Who directs the Basra Cultural Center?"})
        assert reply.json() == seeds_index.answer("Who directs the Basra Cultural Center?").to_dict()
        assert reply.json()["quotes"][0]["citation"].startswith("seeds/001_9dcbbab14ab930fe.txt ¶3")


def test_credentials_are_checked_before_a_body_is_read_and_other_routes_have_a_limit_too(fake_index: qa.Index) -> None:
    import socket

    with serving(fake_index, auth=("ann", "pw")) as base:
        # Without credentials a malformed body is not even parsed: 401, not 422.
        broken = httpx.post(f"{base}/api/v1/answer", content=b"{bad", headers={"content-type": "application/json"})
        assert broken.status_code == 401
        # The chat's own routes take no body larger than the uploads may be: refused by its declared size.
        host, port = base.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10737418240\r\n\r\n{"
            )
            assert sock.recv(200).startswith(b"HTTP/1.1 413")
        assert httpx.get(f"{base}/health").status_code == 200
