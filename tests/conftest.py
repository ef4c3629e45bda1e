"""Shared fixtures: tiny corpora, the fake embedder, and the real model loaded once."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fakes import FakeEmbedder

import qa

ROOT = Path(__file__).resolve().parent.parent
#: The bundled articles, copied once per run without what the demo's page added (``seeds/uploads/``).
SEEDS = Path(tempfile.mkdtemp(prefix="qa-seeds-")) / "seeds"
shutil.copytree(ROOT / "seeds", SEEDS, ignore=shutil.ignore_patterns("uploads"))
atexit.register(shutil.rmtree, SEEDS.parent, ignore_errors=True)
DEV_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"

ARTICLES = {
    "volcano.txt": (
        "Mount Etna is an active volcano on the east coast of Sicily.\n"
        "It erupts frequently, and its lava flows have shaped the surrounding farmland for centuries.\n"
        "\n"
        "Scientists at the Etna Observatory measure gas emissions every day to forecast eruptions.\n"
    ),
    "bakery.md": (
        "# The Corner Bakery\n"
        "\n"
        "The Corner Bakery opened in 1952 and is famous for its sourdough bread baked before dawn.\n"
        "\n"
        "Its owner, Maria Rossi, trains apprentices in the art of slow fermentation.\n"
    ),
    "nested/rivers.txt": (
        "The Danube flows through ten countries before reaching the Black Sea.\n"
        "\n"
        "Barges on the river carry grain, steel and timber between inland ports.\n"
    ),
}


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(index: qa.Index | qa.LiveIndex, **options: Any) -> Iterator[str]:
    """The web chat served on a free port of 127.0.0.1 while the block runs: its base URL (no ``/``)."""
    from qa.web.server import start

    running = start(index, **options)
    try:
        yield running.url
    finally:
        running.stop()


def write_corpus(root: Path, files: dict[str, str] = ARTICLES) -> Path:
    """Write ``files`` under ``root`` and return it."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A copy of the mixed-format sample (text, Markdown, HTML, PDF, Word)."""
    return Path(shutil.copytree(ROOT / "tests" / "data" / "mixed", tmp_path / "mixed"))


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_index(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> qa.Index:
    return qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.2))


@pytest.fixture(scope="session")
def real_embedder() -> object:
    from qa.embed.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("project") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seeds_index(seeds_copy: Path, real_embedder: object) -> qa.Index:
    return qa.build_index(seeds_copy, seeds_copy.parent / "embeddings", embedder=real_embedder, label="seeds")  # type: ignore[arg-type]
