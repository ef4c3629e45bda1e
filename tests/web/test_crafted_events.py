"""Events sent to the server by hand, not by the page: files named by path, /dev/zero, unrecorded files."""

from __future__ import annotations

import json
import uuid
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
