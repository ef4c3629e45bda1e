"""`qa serve` starts on a busy machine: bound first, warmed, then the URL; no self-check to time out."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port, write_corpus

import qa

pytestmark = pytest.mark.model

STARTS = 5


def _lines(stream: object, into: queue.Queue[str]) -> None:
    """Copy a process's output into a queue, line by line."""
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_five_starts_beside_two_busy_processes_all_serve(tmp_path: Path, real_embedder: object) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    qa.build_index(corpus, tmp_path / "index", embedder=real_embedder)  # type: ignore[arg-type]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # Both cores kept busy the whole time, as by a build or another program.
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for _ in range(STARTS):
            port = free_port()
            command = [sys.executable, "-m", "qa", "serve", "--index", str(tmp_path / "index"), "--port", str(port)]
            server = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
            )
            said: queue.Queue[str] = queue.Queue()
            threading.Thread(target=_lines, args=(server.stdout, said), daemon=True).start()
            seen: list[str] = []
            try:
                deadline = time.monotonic() + 300
                while not any("Serving the chat on" in line for line in seen):
                    assert server.poll() is None, "".join(seen)
                    assert time.monotonic() < deadline, "".join(seen)
                    with contextlib.suppress(queue.Empty):
                        seen.append(said.get(timeout=1))
                base = f"http://127.0.0.1:{port}"
                assert httpx.get(f"{base}/health", timeout=30).json() == {"ready": True}
                reply = httpx.post(f"{base}/api/v1/answer", json={"question": "Where is Mount Etna?"}, timeout=60)
                assert reply.status_code == 200 and reply.json()["quotes"][0]["source"] == "volcano.txt"
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
            # Stopped cleanly, without a traceback anywhere in what it printed.
            rest = server.stdout.read() if server.stdout else ""  # type: ignore[union-attr]
            printed = "".join(seen) + rest
            assert "Traceback" not in printed and "shareable link" not in printed, printed
    finally:
        for process in busy:
            process.kill()
            process.wait()
