"""The documentation stays in step with the code: every test and module it names exists where it says."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def cited_tests(text: str) -> list[tuple[str, str]]:
    """``(file, test)`` for every ``tests/….py::test_…`` in ``text``; ``::test_…`` alone is in the file before it."""
    found, current = [], ""
    for match in re.finditer(r"`(tests/[\w/]+\.py)?::(test_\w+)`", text):
        current = match.group(1) or current
        found.append((current, match.group(2)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_document_cites_exists(doc: object) -> None:
    text = doc.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    missing = [
        f"{file}::{name}"
        for file, name in cited_tests(text)
        if not (ROOT / file).is_file() or f"def {name}(" not in (ROOT / file).read_text(encoding="utf-8")
    ]
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_a_document_names_exists(doc: object) -> None:
    text = doc.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    named = set(re.findall(r"`(qa/[\w/]+\.py|qa/[\w/]+/)`", text))
    assert sorted(n for n in named if not (ROOT / n).exists()) == []


def test_the_readme_links_the_architecture() -> None:
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
