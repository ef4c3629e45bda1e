"""Events sent to the server by hand, not by the page: files named by path, /dev/zero, unrecorded files."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from conftest import serving

import qa
from qa.web.access import Access


def event(config: dict[str, Any], trigger: str, elem: str) -> int:
    """The id of the event ``trigger`` of the component ``elem`` in the page's config."""
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for number, dependency in enumerate(config["dependencies"]):
        if any(ids.get(target) == elem and kind == trigger for target, kind in dependency["targets"]):
            return int(dependency.get("id", number))
    raise LookupError((elem, trigger))


def call(client: httpx.Client, base: str, fn: int, data: list[Any], event_data: object = None) -> dict[str, Any]:
    """Send one event through Gradio's queue as a page would, and read its outcome."""
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn, "session_hash": session, "trigger_id": None, "event_data": event_data}
    client.post(f"{base}/gradio_api/queue/join", json=body).raise_for_status()
    with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return dict(message)
    raise AssertionError("no outcome")


def test_an_upload_event_naming_a_server_file_is_refused(fake_index: qa.Index, tmp_path: Path) -> None:
    secret = tmp_path / "secret notes.md"
    secret.write_text("# Private\n\nThe vault code is 4417.\n", encoding="utf-8")
    access = Access.decide(read_only=False, open_network=False)
    with serving(fake_index, access=access) as base, httpx.Client(timeout=30) as client:
        config = client.get(f"{base}/config").json()
        upload = event(config, "upload", "qa-upload")
        for path in (str(secret), "/dev/zero"):
            named = [[{"path": path, "orig_name": "notes.md", "meta": {"_type": "gradio.FileData"}}], ""]
            outcome = call(client, base, upload, named)
            # Refused before anything is read: not copied, not added; the server still answers.
            assert outcome["success"] is False and "not uploaded by a user" in json.dumps(outcome)
            assert client.get(f"{base}/config", timeout=5).status_code == 200
    assert not (fake_index.corpus / "uploads").exists()


def test_a_remove_event_for_a_file_the_index_never_recorded_is_refused(fake_index: qa.Index) -> None:
    script = fake_index.corpus / "deploy.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    access = Access.decide(read_only=False, open_network=False)
    with serving(fake_index, access=access) as base, httpx.Client(timeout=30) as client:
        client.get(f"{base}/")
        config = client.get(f"{base}/config").json()
        remove = event(config, "click", "qa-documents")
        for source in ("deploy.sh", "../outside.txt", "/etc/passwd", ".qa-index/index.db"):
            outcome = call(client, base, remove, [None, ""], {"action": "remove", "source": source})
            assert outcome["success"] is True
            assert "not a document of this index" in outcome["output"]["data"][0]
    assert script.exists()


def test_hostile_names_through_the_http_upload_land_under_uploads_with_safe_names(fake_index: qa.Index) -> None:
    names = ["../../escape.txt", "nul\x00byte.txt", "two\nlines.txt", "x" * 300 + ".txt"]
    access = Access.decide(read_only=False, open_network=False)
    with serving(fake_index, access=access) as base, httpx.Client(timeout=30) as client:
        config = client.get(f"{base}/config").json()
        files = [
            ("files", (name, f"Note {n}: the ferry left at {n} o'clock.\n".encode())) for n, name in enumerate(names)
        ]
        stored = client.post(f"{base}/gradio_api/upload", files=files).json()
        assert len(stored) == len(names)
        sent = [{"path": path, "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}} for path in stored]
        outcome = call(client, base, event(config, "upload", "qa-upload"), [sent, ""])
        assert outcome["success"] is True, outcome
    uploads = fake_index.corpus / "uploads"
    landed = sorted(path.name for path in uploads.iterdir())
    # Every file is in uploads/, none outside it, each name one plain part of at most 255 bytes.
    assert len(landed) == len(names)
    assert all(name.isprintable() and "/" not in name and len(name.encode()) <= 255 for name in landed)
    assert not (fake_index.corpus / "escape.txt").exists() and not (fake_index.corpus.parent / "escape.txt").exists()
    assert {path.read_text(encoding="utf-8") for path in uploads.iterdir()} == {
        f"Note {n}: the ferry left at {n} o'clock.\n" for n in range(len(names))
    }


def test_a_declared_size_of_a_gigabyte_is_refused_at_once(fake_index: qa.Index) -> None:
    with serving(fake_index) as base:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        head = (
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b'Content-Length: 1073741824\r\n\r\n--B\r\nContent-Disposition: form-data; name="files"; '
            b'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        )
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head)
            reply = b""
            try:
                # Sent until the server answers and stops reading: it does not wait for the gigabyte.
                for _ in range(4096):
                    sock.sendall(b"x" * 65536)
            except OSError:
                pass
            reply = sock.recv(200)
        assert reply.startswith(b"HTTP/1.1 413")
        assert httpx.get(f"{base}/config", timeout=5).status_code == 200


def test_the_chats_events_take_no_body_larger_than_a_megabyte_uploads_take_documents(fake_index: qa.Index) -> None:
    """Before: five 30 MB bodies posted to Gradio's API were read whole (330 MB never given back)."""
    from qa.web.api import EVENT_BODY

    with serving(fake_index) as base:
        big = b'{"data": ["' + b"x" * (EVENT_BODY + 1) + b'"], "fn_index": 0, "session_hash": "abc"}'
        for route in ("/gradio_api/queue/join", "/gradio_api/run/ask", "/gradio_api/call/ask", "/login"):
            reply = httpx.post(f"{base}{route}", content=big, headers={"Content-Type": "application/json"}, timeout=30)
            assert reply.status_code == 413, route
            assert "over the 1024 KB" in reply.json()["error"]

        # Sent without a length, it is cut off after the limit, not read to the end.
        def chunks() -> Iterator[bytes]:
            for _ in range(64):
                yield b"x" * 65536

        streamed = httpx.post(f"{base}/gradio_api/queue/join", content=chunks(), timeout=30)
        assert streamed.status_code in (400, 413, 422)
        # A document of a few megabytes is still an upload the page may send.
        upload = httpx.post(f"{base}/gradio_api/upload", files={"files": ("a.txt", b"word " * 600_000)}, timeout=60)
        assert upload.status_code != 413
        assert httpx.get(f"{base}/config", timeout=5).status_code == 200


def test_a_larger_max_upload_of_the_operator_is_let_through_the_body_gate(fake_index: qa.Index) -> None:
    from dataclasses import replace

    from qa.config import ServerSettings
    from qa.web.api import ApiGate
    from qa.web.server import _size_bytes, create_app

    assert (_size_bytes("64kb"), _size_bytes("1 MB"), _size_bytes(None), _size_bytes("lots")) == (65536, 2**20, 0, 0)

    def gate_limit(server: ServerSettings) -> int:
        app = create_app(fake_index, server=server)
        (gate,) = [m for m in app.user_middleware if m.cls is ApiGate]
        return int(gate.kwargs["upload_limit"])

    default = gate_limit(ServerSettings())
    assert gate_limit(replace(ServerSettings(), max_upload="2gb")) == 2 * 1024**3 + 2**20 > default
    assert gate_limit(replace(ServerSettings(), max_upload="1kb")) == default
