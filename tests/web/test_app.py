"""The web chat, launched on 127.0.0.1 and called through gradio_client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import serving
from gradio_client import Client

import qa
from qa.web.conversation import Turn
from qa.web.render import conversation_html

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def client(seeds_index: qa.Index) -> Iterator[Client]:
    with serving(seeds_index) as base:
        yield Client(f"{base}/", verbose=False)


def test_ask_endpoint_returns_the_cli_json(client: Client, seeds_index: qa.Index) -> None:
    data = client.predict("Who directs the Basra Cultural Center?", 5, None, api_name="/ask")
    assert data == seeds_index.answer("Who directs the Basra Cultural Center?").to_dict()
    assert data["found"] is True
    assert (data["quotes"][0]["source"], data["quotes"][0]["paragraph"]) == ("001_9dcbbab14ab930fe.txt", 3)


def test_ask_endpoint_abstains_out_of_corpus(client: Client) -> None:
    data = client.predict("What is the capital of France?", 5, None, api_name="/ask")
    assert data["found"] is False


def test_ask_endpoint_reports_bad_input(client: Client) -> None:
    data = client.predict("", 5, None, api_name="/ask")
    assert data["found"] is False and "empty" in data["error"]


def test_only_the_ask_endpoint_is_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/ask"]


def test_ask_endpoint_filters_by_source(client: Client) -> None:
    data = client.predict("Who directs the Basra Cultural Center?", 5, ["004_87c802f936a4d6e3.txt"], api_name="/ask")
    assert {q["source"] for q in data["quotes"] + data["more"]} == {"004_87c802f936a4d6e3.txt"}
    bad = client.predict("Who directs the Basra Cultural Center?", 5, ["nope.txt"], api_name="/ask")
    assert "nope.txt" in bad["error"]


def test_only_the_director_quote_is_shown_and_highlighted(seeds_index: qa.Index) -> None:
    answer = seeds_index.answer("Who directs the Basra Cultural Center?")
    page = conversation_html([Turn(0, answer.question, answer.question, answer=answer)])
    assert (answer.quotes[0].source, answer.quotes[0].paragraph) == ("001_9dcbbab14ab930fe.txt", 3)
    marked = answer.quotes[0].text[slice(*answer.quotes[0].highlights[0])]
    assert "director of the Basra Cultural Center" in marked and len(answer.quotes[0].highlights) == 1
    assert page.count('<mark class="qa-answer">') == sum(len(q.highlights) for q in (*answer.quotes, *answer.more))
    assert "seeds/001_9dcbbab14ab930fe.txt ¶3 (line 3)" in page and 'class="qa-more"' in page
