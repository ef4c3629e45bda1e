"""The web server (qa.web.server): the browser cookie, binding the address, and stopping."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest
from conftest import serving, write_corpus
from fakes import FakeEmbedder

import qa
from qa.web.server import bind, start
from qa.web.sessions import BROWSER_COOKIE

YEAR = 365 * 24 * 3600
VALID = "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def module_index(tmp_path_factory: pytest.TempPathFactory) -> qa.Index:
    root = tmp_path_factory.mktemp("server")
    corpus = write_corpus(root / "corpus")
    return qa.build_index(corpus, root / "index", embedder=FakeEmbedder(), settings=qa.Settings(threshold=0.2))


@pytest.fixture(scope="module")
def base(module_index: qa.Index) -> Iterator[str]:
    with serving(module_index) as url:
        yield url


def browser_cookies(response: httpx.Response) -> list[str]:
    """The ``Set-Cookie`` headers of the response that set the browser id."""
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{BROWSER_COOKIE}=")]


def attributes(header: str) -> tuple[str, dict[str, str]]:
    """The value of a ``Set-Cookie`` header and its attributes (lower-cased names; ``""`` for flags)."""
    first, *rest = (part.strip() for part in header.split(";"))
    value = first.split("=", 1)[1]
    found = {}
    for part in rest:
        name, _, setting = part.partition("=")
        found[name.lower()] = setting
    return value, found


def get(base: str, cookie: str | None = None) -> httpx.Response:
    headers = {"cookie": cookie} if cookie is not None else {}
    return httpx.get(f"{base}/", headers=headers, timeout=60)


# -- the browser cookie ------------------------------------------------------------------------------------------


def test_a_first_visit_gets_a_browser_id(base: str) -> None:
    response = get(base)
    assert response.status_code == 200
    (header,) = browser_cookies(response)
    value, found = attributes(header)
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert found["path"] == "/"
    assert found["samesite"].lower() == "lax"
    assert "httponly" in found
    # About a year.
    assert abs(int(found["max-age"]) - YEAR) <= 24 * 3600


def test_every_new_browser_gets_its_own_id(base: str) -> None:
    ids = {attributes(browser_cookies(get(base))[0])[0] for _ in range(5)}
    assert len(ids) == 5


def test_a_browser_with_an_id_keeps_it(base: str) -> None:
    response = get(base, f"{BROWSER_COOKIE}={VALID}")
    assert response.status_code == 200
    assert browser_cookies(response) == []
    # Among other cookies, too.
    response = get(base, f"theme=dark; {BROWSER_COOKIE}={VALID}; other=1")
    assert response.status_code == 200 and browser_cookies(response) == []


def test_the_id_given_is_the_one_kept(base: str) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        first = client.get("/")
        (header,) = browser_cookies(first)
        given = attributes(header)[0]
        assert client.cookies[BROWSER_COOKIE] == given
        again = client.get("/")
        assert again.status_code == 200 and browser_cookies(again) == []
        assert client.cookies[BROWSER_COOKIE] == given


@pytest.mark.parametrize(
    "cookie",
    [
        f"{BROWSER_COOKIE}=",
        f"{BROWSER_COOKIE}=xyz",
        f"{BROWSER_COOKIE}={VALID.upper()}",
        f"{BROWSER_COOKIE}={VALID[:-1]}",
        f"{BROWSER_COOKIE}={VALID}0",
        f'{BROWSER_COOKIE}="{VALID}',
        f"{BROWSER_COOKIE}={VALID[:16]}-{VALID[17:]}",
        "other=1",
        "garbage",
        ";;;===",
        f"qa_browser_x={VALID}",
    ],
)
def test_a_missing_or_malformed_id_gets_a_new_one(base: str, cookie: str) -> None:
    response = get(base, cookie)
    assert response.status_code == 200
    (header,) = browser_cookies(response)
    value = attributes(header)[0]
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert value not in cookie


def test_other_paths_set_the_cookie_too(base: str) -> None:
    response = httpx.get(f"{base}/config", timeout=60)
    assert response.status_code == 200
    assert len(browser_cookies(response)) == 1
    response = httpx.get(f"{base}/config", headers={"cookie": f"{BROWSER_COOKIE}={VALID}"}, timeout=60)
    assert browser_cookies(response) == []


# -- binding and stopping ----------------------------------------------------------------------------------------


def test_bind_listens_on_the_address() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        host, port = sock.getsockname()[:2]
        assert host == "127.0.0.1" and port > 0
        # It accepts connections already.
        with socket.create_connection((host, port), timeout=5):
            pass
    finally:
        sock.close()


def test_bind_on_a_busy_port_raises_oserror() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(OSError):
            bind("127.0.0.1", port)
    finally:
        sock.close()
    # Free again once closed.
    bind("127.0.0.1", port).close()


def test_start_on_a_busy_port_raises_oserror(fake_index: qa.Index) -> None:
    sock = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            start(fake_index, port=sock.getsockname()[1])
    finally:
        sock.close()


def test_stop_frees_the_port(fake_index: qa.Index) -> None:
    running = start(fake_index)
    port = int(running.url.rsplit(":", 1)[1])
    assert running.url == f"http://127.0.0.1:{port}"
    assert httpx.get(f"{running.url}/", timeout=60).status_code == 200
    running.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{running.url}/", timeout=5)
    bind("127.0.0.1", port).close()
