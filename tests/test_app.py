"""The web chat, launched on 127.0.0.1 and called through gradio_client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from gradio_client import Client

import qa
from qa.app import answer_markdown, build_app, escape

pytestmark = pytest.mark.model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def client(seeds_index: qa.Index) -> Iterator[Client]:
    demo = build_app(seeds_index)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_ask_endpoint_returns_the_cli_json(client: Client, seeds_index: qa.Index) -> None:
    data = client.predict("Who directs the Basra Cultural Center?", 3, api_name="/ask")
    assert data == seeds_index.answer("Who directs the Basra Cultural Center?").to_dict()
    assert data["found"] is True
    assert (data["quotes"][0]["source"], data["quotes"][0]["paragraph"]) == ("001_9dcbbab14ab930fe.txt", 3)


def test_ask_endpoint_abstains_out_of_corpus(client: Client) -> None:
    data = client.predict("What is the capital of France?", 3, api_name="/ask")
    assert data["found"] is False


def test_ask_endpoint_reports_bad_input(client: Client) -> None:
    data = client.predict("", 3, api_name="/ask")
    assert data["found"] is False and "empty" in data["error"]


def test_only_the_ask_endpoint_is_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/ask"]


def test_chat_markdown_shows_quotes_citations_and_highlights(seeds_index: qa.Index) -> None:
    answer = seeds_index.answer("Who directs the Basra Cultural Center?")
    markdown = answer_markdown(answer)
    assert markdown.count("\n> ") >= 3
    assert "`seeds/001_9dcbbab14ab930fe.txt ¶3 (line 3)`" in markdown
    assert "<mark>" in markdown and "director of the Basra Cultural Center" in markdown


def test_escape_keeps_markdown_and_maths_literal() -> None:
    assert escape("*a* $5 <b>") == "\\*a\\* &#36;5 &lt;b&gt;"
    assert escape("Title\n=====") == "Title\n\\=\\=\\=\\=\\="
